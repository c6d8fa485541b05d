// Adam that runs backwards exactly, and the hypergradients of its schedules: the second
// variant of exact_optimizer.h (K = 2 moments, m and s), beyond the paper (its §6 suggests it).
//
// Forward, t = 0 … T−1, per parameter (block j's values):
//   g = ∇_w L(w_t, θ; batch_t)
//   m ← β1_t·m + (1−β1_t)·g;   s ← β2_t·s + (1−β2_t)·g²
//   m̂ = m / c1_t,  ŝ = s / c2_t,  c1_t = 1 − Π_{τ≤t} β1_τ,  c2_t = 1 − Π_{τ≤t} β2_τ
//   w ← w − α_t · m̂ / (√ŝ + ε)                 (the *new* moments)
// In fixed point the decays are Algorithm 3's exact multiply by n/d (the rule of rational.h;
// n/d exceeds β by < 2^-16: for β2 = 0.999 the applied factor is 65471/65536 = 0.9990082),
// their lost digits go to the information buffer, and every other use of β (the increments,
// c1, c2, all hypergradients) takes the floating-point value, as for SGD's γ. Reverse:
// w_t = w_{t+1} + α·m̂/(√ŝ + ε) from the same m, s (the same truncated increment, subtracted
// back), then g_t = ∇L(w_t), then s_t and m_t by subtracting the increments and dividing
// exactly. Bits per parameter per step: log2(d/n) for each moment (0.152 + 0.0014 at β1 = 0.9,
// β2 = 0.999).
//
// Range and resolution of each state:
//   w      int64, radix 2^52 (as SGD's): |w| < 2048, resolution 2.2e-16. A step α·m̂/D is
//          truncated to that grid, so steps below 2.2e-10 are off by more than 1e-6 relative.
//   m, s   int128, radix 2^116 (kAdamMomentFormat): |m|, |s| < 2^11 = 2048, resolution
//          2^-116 = 1.2e-35. s < 2048 allows gradients up to √2048 ≈ 45 in RMS; one step may
//          bring s up to (1−β2)·g², i.e. |g| up to 1431 at β2 = 0.999. Leaving the range stops
//          training with FixedPointOverflow naming "s of parameter …" (or m, or the parameter).
// Why 2^-116: Algorithm 3 leaves c·n/d off by less than n ≈ 2^16 quanta per multiply
// (⌊c/d⌋·n + digit, 0 ≤ digit < n), and each increment is truncated to one quantum. On w's grid
// (2^-52, the old design) (1−β2)·g² vanished for |g| < 4.7e-7 and the step became α·m̂/ε (10α
// at |g| = 1e-7, ε = 1e-8). On 2^-116, 2^16 quanta are 7.9e-31, against s ≥ (1−β2)·g² = 1e-27
// at |g| = 1e-12, β2 = 0.999; the step α·m̂/(√ŝ + ε) moves by half s's relative error times
// √ŝ/(√ŝ + ε). Measured against float64 textbook Adam with the decay n/d (AdamStepTest): one,
// five and 2000 steps for |g| from 1e-12 to 1e3 and ε ∈ {1e-12, 1e-8, 1e-3}, both buffers,
// agree to 1e-6 relative (worst 1.4e-7); below the stated range, |g| = 3e-13 with ε = 1e-12
// reaches 1.5e-6 after ~1500 steps, when the buffer's digits are random. 2^-116 is the finest
// grid that keeps the range 2048 in 128 bits (each bit finer halves the range); m shares the
// format (|m| ≤ max |g| needs the same range, and (1−β1)·g ≥ 1e-13 is resolved far below
// 1e-6). ε is refused outside [1e-12, 1] (kAdamMinEps, kAdamMaxEps): smaller ε only matters
// where √ŝ < ε, i.e. for gradients below the 1e-12 this grid is sized for. The reverse pass and
// the hypergradients use the moments' doubles (int128 → double, correctly rounded).
//
// Reverse pass, from w̄ = ∂f/∂w_T, m̄ = s̄ = 0, θ̄ = ∂f/∂θ, for t = T−1 … 0, with D = √ŝ + ε and
// Δ = −m̂/D formed from m_{t+1}, s_{t+1} (sums per block for the schedule's entries):
//   dα_t   += w̄·Δ
//   m̄      += −α·w̄ / (c1·D)
//   s̄      += α·w̄ · m̂ / (2·√ŝ·c2·D²)           (0 where ŝ = 0: √ has no derivative there)
//   dε     += α·w̄ · m̂ / D²
//   c̄1_t   += α·w̄ · m̂ / (c1·D);   c̄2_t += −α·w̄ · m̂·√ŝ / (2·c2·D²)
//   dβ1_τ  += −Σ_{t'≥τ} c̄1_{t'}·Π_{σ≤t'} β1_σ / β1_τ   (c1_{t'} depends on every β1_τ, τ ≤ t')
//   dβ2_τ  likewise with c̄2
//   w → w_t;  g_t = ∇L(w_t);  ḡ = (1−β1)·m̄ + 2·(1−β2)·g_t ⊙ s̄
//   m → m_t, s → s_t;  dβ1_t += m̄·(m_t − g_t);  dβ2_t += s̄·(s_t − g_t²)
//   w̄ += ∇²L·ḡ;  θ̄ += ∇_θ⟨∇_w L, ḡ⟩;  m̄ ← β1·m̄;  s̄ ← β2·s̄
// ḡ needs g_t, so each reverse step evaluates the gradient and then the gradient with the
// Hessian-vector product (one gradient more per step than SGD's reverse pass).
// Schedules "beta1", "beta2", scalar "eps", moments "m", "s" (exact_optimizer.h).
#ifndef HYPERGRAD_OPTIMIZERS_REVERSIBLE_ADAM_H_
#define HYPERGRAD_OPTIMIZERS_REVERSIBLE_ADAM_H_

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "models/model.h"
#include "optimizers/registry.h"
#include "optimizers/reversible_training.h"

namespace hypergrad {

// m and s: signed 128-bit fixed point with 116 fraction bits (resolution 2^-116 ≈ 1.2e-35,
// range |x| < 2^11 = 2048). See the file comment for why.
inline constexpr FixedPointFormat kAdamMomentFormat = kFineMomentFormat;  // exact_optimizer.h
// The ε the grid serves (AdamSchedule::Validate refuses others).
inline constexpr double kAdamMinEps = 1e-12;
inline constexpr double kAdamMaxEps = 1.0;

// Learning rates α[t][j], decays β1[t][j] and β2[t][j] for iteration t and parameter block j,
// and ε.
struct AdamSchedule {
  std::size_t iters = 0;
  std::size_t blocks = 1;
  std::vector<double> alpha, beta1, beta2;  // iters × blocks, row-major
  double eps = 1e-8;

  static AdamSchedule Constant(std::size_t iters, std::size_t blocks, double alpha, double beta1,
                               double beta2, double eps);
  double Alpha(std::size_t t, std::size_t j) const { return alpha[t * blocks + j]; }
  double Beta1(std::size_t t, std::size_t j) const { return beta1[t * blocks + j]; }
  double Beta2(std::size_t t, std::size_t j) const { return beta2[t * blocks + j]; }
  // Throws std::invalid_argument, naming the entry, unless the sizes match, every α is finite,
  // every β is in (0, 1) and 1e-12 ≤ ε ≤ 1.
  void Validate() const;
};

struct AdamSetup {
  std::shared_ptr<const Model> model;
  ParameterBlocks blocks;
  AdamSchedule schedule;
  BatchSchedule batches;
};

class ReversibleAdam final : public ReversibleTraining {
 public:
  using Setup = AdamSetup;

  // Throws std::invalid_argument if the blocks do not partition the model's parameters, the
  // schedule is invalid or has a different number of blocks, no batch schedule is given, or
  // the method's options are out of range.
  ReversibleAdam(AdamSetup setup, TrainingOptions options = {});

  // Runs the T forward steps from w0 with m_0 = s_0 = 0 (or the given moments, P values each,
  // s0 ≥ 0). Throws FixedPointOverflow naming the iteration and the parameter (or "m of" / "s
  // of" it) if training leaves the representable range; std::invalid_argument for wrong sizes
  // or a negative s0.
  // Train(w0, u0) with u0 = (m0, s0) as one vector is ReversibleTraining's.
  void Train(std::span<const double> w0);
  void Train(std::span<const double> w0, std::span<const double> m0, std::span<const double> s0);
  using ReversibleTraining::Train;

  // m_T and s_T after Train() (w_T is weights()).
  std::span<const double> first_moment() const { return moments().first(weights().size()); }
  std::span<const double> second_moment() const { return moments().last(weights().size()); }

  // Reverse (ReversibleTraining) returns d_w0, moment("m"), moment("s"), d_alpha,
  // schedule("beta1"), schedule("beta2"), scalar("eps") and d_theta.

 private:
  void CheckInitialMoments(std::span<const double> u0) const override;

  AdamSchedule schedule_;
  // Π_{τ≤t} β1_τ and Π_{τ≤t} β2_τ per block (iters × blocks), formed once in order τ = 0 … t.
  std::vector<double> beta1_products_, beta2_products_;
};

// The registry's entry (optimizers/registry.h): "adam", --beta1, --beta2, --eps.
OptimizerInfo AdamOptimizerInfo();

}  // namespace hypergrad

#endif  // HYPERGRAD_OPTIMIZERS_REVERSIBLE_ADAM_H_
