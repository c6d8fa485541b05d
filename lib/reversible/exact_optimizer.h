// The small interface every exactly reversible optimizer implements (one file per variant:
// reversible_sgd.cc for SGD with momentum, reversible_adam.cc for Adam, reversible_rmsprop.cc for
// RMSprop with momentum), registered by name in optimizers/registry.cc.
//
// An optimizer is exactly reversible in fixed point when its step has this form, K moment
// vectors u_1 … u_K of P values each, stacked into one vector u of K·P values:
//   u ← r ⊙ u + c ⊙ φ(g, u)   (r = n/d applied by Algorithm 3, c a double, φ an input)
//   w ← w + α ⊙ Δ(u)          (Δ a deterministic function of the *new* moments only)
// φ_i, the input of moment i, may read the *new* values of the moments j < i (MomentStages()
// = K): the moments are then updated one at a time in index order, u_i ← r_i·u_i + c_i·φ_i,
// and undone in the opposite order, so φ_i sees the same values both ways.
// Reverse, given u_{t+1}: w_t = w_{t+1} − α ⊙ Δ(u_{t+1}) (the same truncated increments,
// subtracted), then g_t = ∇L(w_t), then u_t by subtracting c ⊙ φ(g_t) and dividing by r with
// the buffer's digits (moment K−1 first when the inputs are staged). The trajectory strategies
// (trajectory.h, checkpointing.h) need nothing else, so they serve every optimizer: SGD with
// momentum is K = 1, u = v, r = γ, c = −(1−γ), φ(g) = g, Δ(u) = v; Adam is K = 2, u = (m, s),
// r = (β1, β2), c = (1−β1, 1−β2), φ(g) = (g, g²), Δ = −m̂/(√ŝ + ε); RMSprop with momentum is
// K = 2, u = (s, m) in that order, r = (ρ, μ), c = (1−ρ, 1−μ), φ = (g², g/√(s_new + ε)),
// Δ = −m.
//
// The reverse pass's time loop is written once (ReversibleTraining::Reverse); an optimizer
// supplies one adjoint step (AdjointStep below) for it.
//
// RMSprop *without* momentum has no such form: its position update w ← w − α·g/√s needs g_t,
// which needs w_t, the very value being recovered, so it cannot be undone without storing w.
#ifndef HYPERGRAD_REVERSIBLE_EXACT_OPTIMIZER_H_
#define HYPERGRAD_REVERSIBLE_EXACT_OPTIMIZER_H_

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/parallel.h"
#include "arithmetic/fixed_point.h"
#include "arithmetic/rational.h"

namespace hypergrad {

struct ParameterBlocks;  // model.h

// The fine moment grid: signed 128-bit fixed point with 116 fraction bits (resolution
// 2^-116 ≈ 1.2e-35, range |x| < 2^11 = 2048, the range of w's grid). Algorithm 3 leaves a
// decayed value off by less than n ≈ 2^16 quanta (⌊c/d⌋·n + a digit < n), 2^16·2^-116 = 7.9e-31
// here against 2^16·2^-52 = 1.5e-11 on w's grid, so moments that follow gradients down to 1e-12
// (g² down to 1e-24) keep their relative accuracy. Adam's m and s (reversible_adam.h) and
// RMSprop's s and m (reversible_rmsprop.h) live on it; 2^-116 is the finest grid that keeps the
// range 2048 in 128 bits.
inline constexpr FixedPointFormat kFineMomentFormat{116, 128};

// The per-element coefficients of iteration t (P parameters, K moments).
struct StepCoefficients {
  std::size_t t = 0;                   // the iteration
  std::vector<double> alpha;           // α_t, P values
  std::vector<double> decay;           // r_t as doubles, K·P (the float baseline and adjoints)
  std::vector<double> increment;       // c_t, K·P, signed
  std::vector<DecayRatio> ratios;      // r_t as the ratios n/d applied exactly, K·P
  std::vector<double> extra;           // the variant's own per-element values (Adam: 1−Πβ)
  // The per-block values these were expanded from (lets a constant schedule skip re-expanding).
  std::vector<double> block_values;
};

// What a reverse pass carries from step t+1 to step t, and the hypergradients it has summed:
// the adjoints ∂f/∂w and ∂f/∂u of the current state and the hyperparameters' adjoints. Sized by
// ReversibleTraining::Reverse; an AdjointStep updates them.
struct Adjoints {
  std::vector<double> d_w;                       // ∂f/∂w_t, P values
  std::vector<double> d_u;                       // ∂f/∂u_t, K·P (moment i at [i·P, (i+1)·P))
  std::vector<double> d_alpha;                   // T × B: ∂f/∂α[t][j]
  std::vector<std::vector<double>> d_schedules;  // per ScheduleNames(), T × B each
  std::vector<double> d_scalars;                 // per ScalarNames()
  std::vector<double> d_theta;                   // ∂f/∂θ (the model's hyperparameters)
};

// One optimizer's reverse (adjoint) step, called by the shared loop for t = T−1 down to the
// first step, in this order (state, w and u, as the trajectory holds it at each call):
//   Position(c, u_{t+1}, a)                 state (w_{t+1}, u_{t+1}); then w_{t+1} → w_t
//   [g_t = ∇L(w_t) if AdjointNeedsGradient()]
//   GradientAdjoint(c, u_{t+1}, g_t, a, ḡ)  state (w_t, u_{t+1}); then the model gives H·ḡ and
//                                           the mixed product ∇_θ⟨∇_w L, ḡ⟩, and u_{t+1} → u_t
//   Moments(c, u_t, g_t, H·ḡ, mixed, a)     state (w_t, u_t)
// so that afterwards a holds the adjoints of step t's state. The element-wise work may be split
// by the ElementLoop it is given (the same bits on any number of threads). One object serves
// one reverse pass (it may carry sums from step to step, e.g. Adam's bias corrections).
class AdjointStep {
 public:
  virtual ~AdjointStep() = default;
  // The adjoint of w ← w + α ⊙ Δ(u): row t of d_alpha, and ∂Δ/∂u into d_u.
  virtual void Position(const StepCoefficients& c, std::span<const double> u_next,
                        Adjoints& a) = 0;
  // ḡ (P values) = the adjoint of g_t through the moment inputs, c ⊙ ∂φ/∂g applied to d_u
  // (with any adjoint of u_{t+1} that φ's dependence on it adds). g is empty unless
  // AdjointNeedsGradient().
  virtual void GradientAdjoint(const StepCoefficients& c, std::span<const double> u_next,
                               std::span<const double> g, Adjoints& a,
                               std::span<double> g_bar) = 0;
  // The rest: the decays' rows t of the schedules, d_w with H·ḡ, d_θ with the mixed product
  // (empty when the model has no hyperparameters), and d_u ← r ⊙ d_u.
  virtual void Moments(const StepCoefficients& c, std::span<const double> u_t,
                       std::span<const double> g, std::span<const double> hvp,
                       std::span<const double> mixed, Adjoints& a) = 0;
};

class ExactOptimizer {
 public:
  virtual ~ExactOptimizer() = default;

  // "sgd", "adam", "rmsprop": what the tools and result files call it.
  virtual std::string_view name() const = 0;
  // K, the moment vectors (1 for SGD's velocity, 2 for Adam's m and s and for RMSprop's s and m).
  virtual std::size_t num_moments() const = 0;
  // Moment i's short name (0 ≤ i < K): "v"; "m", "s"; used for result names (d_v0, m_T) and
  // messages ("s of parameter W0[3,4]").
  virtual std::string MomentName(std::size_t i) const = 0;
  // The optimizer's schedules besides α, each T × B ("gamma"; "beta1", "beta2"; "rho", "mu"),
  // and its scalar hyperparameters ("eps"), in the order of Adjoints::d_schedules / d_scalars.
  virtual std::vector<std::string> ScheduleNames() const = 0;
  virtual std::vector<std::string> ScalarNames() const { return {}; }
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
  // 1 when every moment's input reads g only (all moments updated at once), K when φ_i reads
  // the new moments j < i (then moment i is updated in stage i).
  virtual std::size_t MomentStages() const { return 1; }
  // φ (K·P values) for `stage` (< MomentStages()): either g itself (returned as is) or written
  // into `scratch` (K·P). With K stages only moment `stage`'s values are used; `moments` holds
  // u with the moments before `stage` already at their new values.
  virtual std::span<const double> MomentInputs(std::size_t stage, std::span<const double> g,
                                               std::span<const double> moments,
                                               std::span<double> scratch) const = 0;
  // Δ(u) for the moments' values u (K·P), P values: either a part of u or written into
  // `scratch` (P). Must give the same bits for the same u every time (exactness needs nothing
  // more).
  virtual std::span<const double> Direction(const StepCoefficients& c,
                                            std::span<const double> moments,
                                            std::span<double> scratch) const = 0;
  // Whether GradientAdjoint needs g_t (Adam's and RMSprop's ḡ do; SGD's does not): the loop then
  // evaluates the gradient once more per step.
  virtual bool AdjointNeedsGradient() const { return false; }
  // The reverse step of one pass over `blocks` (which outlive it).
  virtual std::unique_ptr<AdjointStep> NewAdjointStep(const ParameterBlocks& blocks,
                                                      const ElementLoop& loop) const = 0;
};

}  // namespace hypergrad

#endif  // HYPERGRAD_REVERSIBLE_EXACT_OPTIMIZER_H_
