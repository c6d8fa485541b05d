// `drmad` (Fu, Luo, Feng & Chua, "DrMAD: Distilling Reverse-Mode Automatic Differentiation for
// Optimizing Hyperparameters of Deep Neural Networks", IJCAI 2016): the reverse pass of
// Algorithm 2 run on the straight line from w_0 to w_T instead of the training trajectory, as
// in the authors' code (bigaidream-projects/drmad, function sgd4_mad):
//   β = linspace(0.001, 0.999, T); x_t = (1−β_t) w_0 + β_t w_T; v_t = (x_t − x_{t−1})/α_t with
//   x_{−1} = w_0; from d_w = ∂f/∂w_T, d_v = 0, d_θ = ∂f/∂θ, for t = T−1 … 0:
//   dα_t = d_w·v_t (per block); g = ∇L_t(x_t); d_v += α_t d_w; dγ_t = d_v·(v_t + g);
//   d_w −= (1−γ_t) ∇²L_t(x_t) d_v; d_θ −= (1−γ_t) ∇_θ⟨∇_w L_t(x_t), d_v⟩; d_v ← γ_t d_v.
// Returns every kind (d_w0, d_v0 are the final d_w, d_v).
//   Approximates: the exact reverse pass, with the trajectory replaced by a line.
//   Memory: O(P) (w_0, w_T, x_t, x_{t−1}, d_w, d_v); time: one float64 training run for w_T,
//     then T gradient+HVP evaluations (≈ 3 training runs in all).
//   Bias: exact only when the trajectory is the line w_0 → w_T with those velocities; otherwise
//     unbounded: gradients and curvature are taken at points training never visited, and the
//     velocities are the line's, not training's (v ≈ (w_T − w_0)/(T·α), far smaller than
//     training's early velocities).
#ifndef HYPERGRAD_ESTIMATORS_DRMAD_H_
#define HYPERGRAD_ESTIMATORS_DRMAD_H_

#include "estimators/estimator.h"

namespace hypergrad {

class DrmadEstimator final : public Estimator {
 public:
  std::string name() const override { return "drmad"; }
  EstimatedHypergradients Estimate(const EstimatorProblem& problem,
                                   BlockHypergradients* blocks = nullptr) const override;
};

}  // namespace hypergrad

#endif  // HYPERGRAD_ESTIMATORS_DRMAD_H_
