// RMSprop with momentum that runs backwards exactly, and the hypergradients of its schedules:
// the third variant of exact_optimizer.h (K = 2 moments, u = (s, m) in that order), which the
// paper names as future work (its §6).
//
// Forward, t = 0 … T−1, per parameter (block j's values):
//   g = ∇_w L(w_t, θ; batch_t)
//   s ← ρ_t·s + (1−ρ_t)·g²
//   m ← μ_t·m + (1−μ_t)·q,   q = g / √(s + ε)        (the *new* s)
//   w ← w − α_t·m                                     (the *new* m)
// m's input reads the new s, so the moments are updated in stages (MomentStages() = 2): s
// first, then m. In fixed point the decays are Algorithm 3's exact multiply by n/d (the rule
// of rational.h: n/d exceeds ρ, μ by < 2^-16), their lost digits go to the information buffer,
// and every other use of ρ, μ (the increments, the hypergradients) takes the floating-point
// value. Reverse: w_t = w_{t+1} + α·m_{t+1} (the same truncated increment, subtracted back),
// g_t = ∇L(w_t), m_t from m_{t+1} with q formed from s_{t+1} (the very doubles the forward step
// used), then s_t; each divided exactly by its ratio. Bits per parameter per step: log2(d/n)
// for each moment (0.0014 + 0.152 at ρ = 0.999, μ = 0.9).
//
// Range and resolution:
//   w      int64, radix 2^52 (kPositionFormat, as SGD's and Adam's): |w| < 2048, resolution
//          2.2e-16; each step α·m is truncated to that grid.
//   s, m   int128, radix 2^116 (kFineMomentFormat, as Adam's m and s): |s|, |m| < 2048,
//          resolution 1.2e-35. s < 2048 allows gradients up to √2048 ≈ 45 in RMS (one step from
//          s = 0 brings s to (1−ρ)·g²). m holds |q| ≤ 1/√(1−ρ) (s_new ≥ (1−ρ)·g²), below 1000 for
//          ρ ≤ 0.999999. Leaving the range stops training with FixedPointOverflow naming "s of
//          parameter …" or "m of parameter …".
// Why the fine grid for both: Algorithm 3 leaves each decayed value off by up to n ≈ 2^16
// quanta, 1.5e-11 on w's grid. At |g| = 1e-12 and ε = 1e-8, s ≈ 1e-24 and m ≈ q ≈ 1e-8, so on
// w's grid m was off by ~1e-3 relative after a few steps (measured: 2.7e-3 in the step after 33
// steps). On 2^-116 the same 2^16 quanta are 7.9e-31: one, five and 2000 steps agree with
// float64 RMSprop with momentum to 1e-6 relative (plus w's quantum) for |g| from 1e-12 to 1e3
// (RmspropStepTest).
// The reverse pass and the hypergradients use the moments' doubles (int128 → double, correctly
// rounded).
//
// Reverse pass (the adjoint), from w̄ = ∂f/∂w_T, m̄ = s̄ = 0, θ̄ = ∂f/∂θ, for t = T−1 … 0, with
// s' = s_{t+1}, m' = m_{t+1}, r = √(s' + ε), q = g_t / r (sums per block for the schedules):
//   dα_t  += −w̄·m'                       (w_{t+1} = w_t − α·m')
//   m̄     += −α·w̄
//   w → w_t;  g_t = ∇L(w_t)
//   q̄ = (1−μ)·m̄;  s̄ += −½·q̄·q/(s' + ε);  dε += −½·q̄·q/(s' + ε)     (q = g·(s' + ε)^−½)
//   ḡ = q̄/r + 2·(1−ρ)·g_t·s̄
//   m → m_t, s → s_t;  dμ_t += m̄·(m_t − q);  dρ_t += s̄·(s_t − g_t²)
//   w̄ += ∇²L·ḡ;  θ̄ += ∇_θ⟨∇_w L, ḡ⟩;  m̄ ← μ·m̄;  s̄ ← ρ·s̄
// Hypergradients: d_w0, moment("s"), moment("m"), d_alpha, schedule("rho"), schedule("mu"),
// scalar("eps"), d_theta.
#ifndef HYPERGRAD_OPTIMIZERS_REVERSIBLE_RMSPROP_H_
#define HYPERGRAD_OPTIMIZERS_REVERSIBLE_RMSPROP_H_

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "models/model.h"
#include "optimizers/registry.h"
#include "optimizers/reversible_training.h"

namespace hypergrad {

// The one range of ε (RmspropSchedule::Validate, the registry's --eps, so the tools and the
// Python module): ε > 0 keeps q = g/√(s + ε) defined where s = g = 0, and 1e-300 keeps ε a
// normal double. Unlike Adam's, the step needs no larger lower bound: s_new ≥ (1−ρ)·g² gives
// |q| ≤ 1/√(1−ρ) whatever ε. The upper bound 1 is Adam's.
inline constexpr double kRmspropMinEps = 1e-300;
inline constexpr double kRmspropMaxEps = 1.0;

// Learning rates α[t][j], decays ρ[t][j] (of s) and μ[t][j] (of m), and ε.
struct RmspropSchedule {
  std::size_t iters = 0;
  std::size_t blocks = 1;
  std::vector<double> alpha, rho, mu;  // iters × blocks, row-major
  double eps = 1e-8;

  // Throws std::invalid_argument, naming the entry, unless the sizes match, every α is finite,
  // every ρ and μ is in (0, 1) and ε is in [kRmspropMinEps, kRmspropMaxEps] = [1e-300, 1].
  void Validate() const;
};

struct RmspropSetup {
  std::shared_ptr<const Model> model;
  ParameterBlocks blocks;
  RmspropSchedule schedule;
  BatchSchedule batches;
};

class ReversibleRmsprop final : public ReversibleTraining {
 public:
  using Setup = RmspropSetup;

  // Throws std::invalid_argument if the blocks do not partition the model's parameters, the
  // schedule is invalid or has a different number of blocks, no batch schedule is given, or
  // the method's options are out of range.
  ReversibleRmsprop(RmspropSetup setup, TrainingOptions options = {});

  // From w0 with s_0 = m_0 = 0; Train(w0, u0) with u0 = (s0, m0), s0 ≥ 0, is
  // ReversibleTraining's.
  void Train(std::span<const double> w0);
  using ReversibleTraining::Train;

 private:
  void CheckInitialMoments(std::span<const double> u0) const override;

  RmspropSchedule schedule_;
};

// The registry's entry (optimizers/registry.h): "rmsprop", --rho, --mu, --eps.
OptimizerInfo RmspropOptimizerInfo();

}  // namespace hypergrad

#endif  // HYPERGRAD_OPTIMIZERS_REVERSIBLE_RMSPROP_H_
