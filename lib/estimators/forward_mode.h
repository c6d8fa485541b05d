// `forward`: forward-mode (real-time recurrent) hypergradients of a few reduced hyperparameters
// (Franceschi, Donini, Frasconi & Pontil, ICML 2017; Williams & Zipser's RTRL): per-block
// constant learning rates α_j (α[t][j] = α_j for every t), per-block constant momenta γ_j and
// per-block log initial scales log s_j (w_0 = e^{log s_j}·ε on block j). For each direction the
// tangents (ẇ, v̇) of the float64 run (float_sgd.h) are carried forward, with the linearisation
// the exact reverse pass transposes (γ_t as the velocity's factor):
//   ġ = H_t ẇ;  v̇ ← γ_t v̇ + γ̇ (v + g) − (1−γ_t) ġ;  ẇ ← ẇ + α̇ v_{t+1} + α_t v̇
// from ẇ_0 = w_0 on block j (log s_j) or 0, v̇_0 = 0; then df = ∇_w f(w_T)·ẇ_T.
// Results are returned as BlockHypergradients; every full-shape kind is not applicable.
// θ is not offered: forward mode needs ∂²L/∂w∂θ·θ̇, which the Model interface does not provide
// (it gives the transposed product).
//   Approximates: nothing — it is the exact derivative of the float64 run (equal to the exact
//     reverse pass's to ~1e-10 relative).
//   Memory: O(P·H) (two tangents per direction); time: H Hessian-vector products per step
//     (≈ (1 + 2H) training runs), independent of any buffer.
//   Bias: none; its cost grows with H, not T.
#ifndef HYPERGRAD_ESTIMATORS_FORWARD_MODE_H_
#define HYPERGRAD_ESTIMATORS_FORWARD_MODE_H_

#include "estimators/estimator.h"

namespace hypergrad {

struct ForwardModeOptions {
  bool alpha_blocks = true;       // B directions
  bool gamma_blocks = true;       // B directions
  bool log_init_scales = true;    // B directions
};

class ForwardModeEstimator final : public Estimator {
 public:
  explicit ForwardModeEstimator(ForwardModeOptions options = {}) : options_(options) {}
  std::string name() const override { return "forward"; }
  EstimatedHypergradients Estimate(const EstimatorProblem& problem,
                                   BlockHypergradients* blocks = nullptr) const override;

 private:
  ForwardModeOptions options_;
};

}  // namespace hypergrad

#endif  // HYPERGRAD_ESTIMATORS_FORWARD_MODE_H_
