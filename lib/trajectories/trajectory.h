// How the forward pass's states (w_t and the optimizer's moments u_t: v_t for SGD with momentum,
// m_t and s_t for Adam, s_t and m_t for RMSprop) are kept so that the reverse pass can visit them
// again, newest first. The strategies know the optimizer only through ExactOptimizer
// (exact_optimizer.h), so each serves every optimizer. The
// strategies:
//   kReversible:       exact fixed point + information buffer; states are *recomputed* by
//                      running the optimizer backwards (the paper's method, there for SGD with
//                      momentum; memory does not grow with T beyond the buffer).
//   kStoredTrajectory: the same fixed-point forward pass, every state saved (the reference: its
//                      hypergradients must equal the reversible ones bit for bit).
//   kNaiveFloat:       the optimizer in float64, reversed by dividing by its decays (γ; β1, β2;
//                      ρ, μ) without a buffer (paper §2.2: does not recover w_0; kept to show by
//                      how much).
//   kCheckpointed:     the same fixed-point forward pass, a snapshot (w, u and the buffer) every
//                      k steps (k = ⌈√T⌉ by default); each segment is recomputed once from its
//                      snapshot during the reverse pass (one extra forward sweep).
//   kRevolve:          the same forward pass with s snapshots placed by binomial checkpointing
//                      (Griewank & Walther's Revolve, via ADOL-C): fewest recomputed steps for
//                      a fixed number of snapshots.
// The three baselines (stored, √T, Revolve) are in checkpointing.h.
#ifndef HYPERGRAD_TRAJECTORIES_TRAJECTORY_H_
#define HYPERGRAD_TRAJECTORIES_TRAJECTORY_H_

#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "reversible/exact_optimizer.h"
#include "buffers/info_buffer.h"

namespace hypergrad {

enum class ReversalMethod { kReversible, kStoredTrajectory, kNaiveFloat, kCheckpointed, kRevolve };

// "reversible", "stored", "naive-float", "checkpointed", "revolve" (std::invalid_argument
// otherwise).
ReversalMethod ParseReversalMethod(std::string_view name);
std::string_view ReversalMethodName(ReversalMethod method);

// Whether the reverse pass came back to where the forward pass started.
struct ReversalCheck {
  bool exact = false;          // w_0 and u_0 recovered bit for bit (and the buffer empty)
  bool buffer_empty = true;    // information buffer back to empty (reversible method)
  double max_w0_error = 0.0;   // max_k |recovered w_0[k] − w_0[k]|
  double max_u0_error = 0.0;   // the same for the moments u_0 (v_0 for SGD)
};

class Trajectory {
 public:
  virtual ~Trajectory() = default;

  // Starts from (w0, u0) (P and K·P values); fixed-point strategies quantise them (truncation
  // toward zero). Throws FixedPointOverflow if a value is out of range.
  virtual void Reset(std::span<const double> w0, std::span<const double> u0) = 0;
  // The current position and moments as doubles (exact values of the fixed-point numbers).
  virtual std::span<const double> position() const = 0;
  virtual std::span<const double> moments() const = 0;

  // Forward step with gradient g = ∇L(w_t): u ← r·u + c·φ(g), then w ← w + α·Δ(u) (the new u).
  // Throws FixedPointOverflow (state unchanged) if a value leaves the fixed-point range; its
  // index is the element of w, or of u (counted from 0 at u's start) plus P.
  virtual void StepForward(const StepCoefficients& c, std::span<const double> g) = 0;
  // Reverse of the position update: w_{t+1} → w_t (moments still u_{t+1}).
  virtual void UndoPosition(const StepCoefficients& c) = 0;
  // Reverse of the moment update given g_t: u_{t+1} → u_t.
  virtual void UndoMoments(const StepCoefficients& c, std::span<const double> g) = 0;

  // After undoing every step: compares the state with the one Reset started from.
  virtual ReversalCheck Check() const = 0;
  // Memory held to make the reverse pass possible, beyond the current w and u: buffer bytes
  // (reversible), saved states (stored), nothing (naive).
  virtual std::size_t ExtraBytes() const = 0;
  // Information in the buffer, in bits (0 for the other strategies).
  virtual double InformationBits() const { return 0.0; }
  // The largest ExtraBytes() since Reset, including states held only during the reverse pass
  // (checkpointing recomputes segments and takes snapshots there).
  virtual std::size_t PeakExtraBytes() const { return ExtraBytes(); }
  // Forward steps recomputed during the reverse pass (checkpointing), so far.
  virtual std::size_t RecomputedSteps() const { return 0; }

  // How a strategy that recomputes forward steps gets their inputs: for iteration t at position
  // w, fill c with the iteration's coefficients and g with ∇L(w) (bit-identical to the forward
  // pass). Set by ReversibleTraining; ignored by strategies that never recompute.
  using Replay = std::function<void(std::size_t t, std::span<const double> w, std::span<double> g,
                                    StepCoefficients& c)>;
  virtual void SetReplay(Replay) {}

  // Threads for the fixed-point updates (Algorithm 3); the results are the same bits for any
  // number (algorithm3.h). Ignored by strategies without them. ≥ 1.
  virtual void SetThreads(unsigned) {}
};

struct TrajectoryOptions {
  // Used by every fixed-point strategy: the stored and checkpointed trajectories need the same
  // buffer kind as the reversible run they are compared with, so that all follow the same
  // trajectory.
  BufferKind buffer = BufferKind::kFast;
  std::size_t checkpoint_interval = 1;  // kCheckpointed: snapshot spacing (≥ 1)
  std::size_t revolve_snapshots = 0;    // kRevolve: number of snapshots s (≥ 1)
  std::size_t steps = 0;                // kRevolve: T, the schedule is planned for it (≥ 1)
  unsigned threads = 1;                 // Trajectory::SetThreads
};

// A strategy for `optimizer` (which must outlive it) and P = num_params. Throws
// std::invalid_argument for an option out of range for `method` (see above).
std::unique_ptr<Trajectory> MakeTrajectory(ReversalMethod method, const ExactOptimizer& optimizer,
                                           std::size_t num_params,
                                           const TrajectoryOptions& options);

}  // namespace hypergrad

#endif  // HYPERGRAD_TRAJECTORIES_TRAJECTORY_H_
