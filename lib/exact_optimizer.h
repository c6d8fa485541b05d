// The small interface every exactly reversible optimizer implements (one file per variant:
// reversible_sgd.cc for SGD with momentum, reversible_adam.cc for Adam).
//
// An optimizer is exactly reversible in fixed point when its step has this form, K moment
// vectors u_1 … u_K of P values each, stacked into one vector u of K·P values:
//   u ← r ⊙ u + c ⊙ φ(g)      (r = n/d applied by Algorithm 3, c a double, φ(g) an input)
//   w ← w + α ⊙ Δ(u)          (Δ a deterministic function of the *new* moments only)
// Reverse, given u_{t+1}: w_t = w_{t+1} − α ⊙ Δ(u_{t+1}) (the same truncated increments,
// subtracted), then g_t = ∇L(w_t), then u_t by subtracting c ⊙ φ(g_t) and dividing by r with
// the buffer's digits. The trajectory strategies (trajectory.h, checkpointing.h) need nothing
// else, so they serve every optimizer: SGD with momentum is K = 1, u = v, r = γ, c = −(1−γ),
// φ(g) = g, Δ(u) = v; Adam is K = 2, u = (m, s), r = (β1, β2), c = (1−β1, 1−β2),
// φ(g) = (g, g²), Δ = −m̂/(√ŝ + ε).
//
// RMSprop *without* momentum has no such form: its position update w ← w − α·g/√s needs g_t,
// which needs w_t, the very value being recovered, so it cannot be undone without storing w.
#ifndef HYPERGRAD_EXACT_OPTIMIZER_H_
#define HYPERGRAD_EXACT_OPTIMIZER_H_

#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

#include "fixed_point.h"
#include "rational.h"

namespace hypergrad {

// The per-element coefficients of iteration t (P parameters, K moments).
struct StepCoefficients {
  std::size_t t = 0;                   // the iteration
  std::vector<double> alpha;           // α_t, P values
  std::vector<double> decay;           // r_t as doubles, K·P (the float baseline and adjoints)
  std::vector<double> increment;       // c_t, K·P, signed
  std::vector<MomentumRatio> ratios;   // r_t as the ratios n/d applied exactly, K·P
  std::vector<double> extra;           // the variant's own per-element values (Adam: 1−Πβ)
  // The per-block values these were expanded from (lets a constant schedule skip re-expanding).
  std::vector<double> block_values;
};

class ExactOptimizer {
 public:
  virtual ~ExactOptimizer() = default;

  // "sgd", "adam": what the tools and result files call it.
  virtual std::string_view name() const = 0;
  // K, the moment vectors (1 for SGD's velocity, 2 for Adam's m and s).
  virtual std::size_t num_moments() const = 0;
  // The fixed-point format of moment vector i (0 ≤ i < K). w is always kPositionFormat (int64,
  // 2^−52). The default puts the moments on w's grid (SGD's velocity). The trajectories keep
  // all K moments in one vector, so every moment of an optimizer must declare the same format
  // (MakeTrajectory throws std::invalid_argument otherwise).
  virtual FixedPointFormat MomentFormat(std::size_t) const { return kPositionFormat; }
  // T, the iterations the schedule covers.
  virtual std::size_t iters() const = 0;
  // Fills c with iteration t's coefficients (t < iters()). Cheap when the schedule's values are
  // those of the last call.
  virtual void Coefficients(std::size_t t, StepCoefficients& c) const = 0;
  // φ(g), K·P values: either g itself (returned as is) or written into `scratch` (K·P).
  virtual std::span<const double> MomentInputs(std::span<const double> g,
                                               std::span<double> scratch) const = 0;
  // Δ(u) for the moments' values u (K·P), P values: either a part of u or written into
  // `scratch` (P). Must give the same bits for the same u every time (exactness needs nothing
  // more).
  virtual std::span<const double> Direction(const StepCoefficients& c,
                                            std::span<const double> moments,
                                            std::span<double> scratch) const = 0;
};

}  // namespace hypergrad

#endif  // HYPERGRAD_EXACT_OPTIMIZER_H_
