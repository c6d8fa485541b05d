// Stochastic gradient descent with momentum that runs backwards exactly, and the
// hypergradients its reverse pass yields (paper Algorithms 1–2). One of the exactly reversible
// optimizers (exact_optimizer.h): K = 1 moment, the velocity v; schedules "gamma".
//
// Forward, t = 0 … T−1:  g_t = ∇_w L(w_t, θ; batch_t);  v ← γ_t·v − (1−γ_t)·g_t;  w ← w + α_t·v
// (the position update uses the *new* velocity). Reverse, from d_w = ∂f/∂w_T, d_v = 0,
// d_θ = ∂f/∂θ, t = T−1 … 0:
//   dα_t = d_w·v_{t+1};  w → w_t;  g_t = ∇L(w_t);  v → v_t;  d_v += α_t·d_w;
//   dγ_t = d_v·(v_t + g_t);  d_w −= ∇²L·((1−γ_t)⊙d_v);  d_θ −= ∇_θ⟨∇_w L, (1−γ_t)⊙d_v⟩;
//   d_v ← γ_t·d_v
// with per-block sums for dα and dγ. The result is d_w = ∂f/∂w_0, d_v = ∂f/∂v_0
// (Hypergradients: d_w0, moment("v"), d_alpha, schedule("gamma"), d_theta).
#ifndef HYPERGRAD_OPTIMIZERS_REVERSIBLE_SGD_H_
#define HYPERGRAD_OPTIMIZERS_REVERSIBLE_SGD_H_

#include <memory>
#include <span>
#include <vector>

#include "models/model.h"
#include "optimizers/registry.h"
#include "optimizers/reversible_training.h"

namespace hypergrad {

// Learning rates α[t][j] and momentum decays γ[t][j] for iteration t and parameter block j.
struct SgdSchedule {
  std::size_t iters = 0;
  std::size_t blocks = 1;
  std::vector<double> alpha;  // iters × blocks, row-major
  std::vector<double> gamma;  // iters × blocks, row-major; 0 < γ < 1 in practice

  static SgdSchedule Constant(std::size_t iters, std::size_t blocks, double alpha, double gamma);
  double Alpha(std::size_t t, std::size_t j) const { return alpha[t * blocks + j]; }
  double Gamma(std::size_t t, std::size_t j) const { return gamma[t * blocks + j]; }
  // Throws std::invalid_argument unless the sizes match and every α is finite and every γ is
  // in (0, 2) (the γ → n/d rule needs γ > 0; γ ≥ 1 is allowed but unusual).
  void Validate() const;
};

// One configured training run.
struct SgdSetup {
  std::shared_ptr<const Model> model;
  ParameterBlocks blocks;
  SgdSchedule schedule;
  BatchSchedule batches;
};

class ReversibleSgd final : public ReversibleTraining {
 public:
  using Setup = SgdSetup;

  // Throws std::invalid_argument if the blocks do not partition the model's parameters, the
  // schedule is invalid or has a different number of blocks, no batch schedule is given, or
  // the method's options are out of range (e.g. 0 Revolve snapshots).
  ReversibleSgd(SgdSetup setup, TrainingOptions options = {});

  // Train(w0, v0) runs the T forward steps from (w0, v0) (quantised to fixed point) and
  // Reverse(d_wT, d_theta) the reverse pass (ReversibleTraining).

  // v_T after Train() (w_T is weights()).
  std::span<const double> velocity() const { return moments(); }

 private:
  std::string MomentName(std::size_t) const override { return "velocity"; }
};

// The registry's entry (optimizers/registry.h): "sgd", --gamma.
OptimizerInfo SgdOptimizerInfo();

}  // namespace hypergrad

#endif  // HYPERGRAD_OPTIMIZERS_REVERSIBLE_SGD_H_
