// What every exactly reversible optimizer's training run shares (ReversibleSgd,
// ReversibleAdam): the model, the parameter blocks and minibatches, the trajectory strategy
// that lets the reverse pass revisit the states, the forward loop and its error reporting.
// A variant adds its schedule (an ExactOptimizer, exact_optimizer.h) and its reverse pass.
#ifndef HYPERGRAD_REVERSIBLE_TRAINING_H_
#define HYPERGRAD_REVERSIBLE_TRAINING_H_

#include <algorithm>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>

#include "exact_optimizer.h"
#include "model.h"
#include "trajectory.h"

namespace hypergrad {

// The rows used by iteration t. Called again, in reverse order, by the reverse pass: it must
// return the same rows for the same t (derive any randomness from t).
using BatchSchedule = std::function<Batch(std::size_t t)>;

// How a run keeps its states for the reverse pass, and what it reports while running.
struct TrainingOptions {
  ReversalMethod method = ReversalMethod::kReversible;
  BufferKind buffer = BufferKind::kFast;
  // Snapshot spacing of kCheckpointed; 0 means ⌈√T⌉.
  std::size_t checkpoint_interval = 0;
  // Snapshots of kRevolve (binomial checkpointing), ≥ 1.
  std::size_t revolve_snapshots = 10;
  // Threads for the fixed-point updates (Trajectory::SetThreads; the model has its own, e.g.
  // MlpOptions::threads). Results are the same bits for any number. ≥ 1.
  unsigned threads = 1;
  // Called before each forward update with t, w_t and the batch loss L(w_t) (learning curves).
  std::function<void(std::size_t t, std::span<const double> w, double batch_loss)> on_step;
  // Called after each reverse step with the number of steps done (progress display).
  std::function<void(std::size_t done)> on_reverse_step;
};

// One moment's per-block decays r_j of an iteration and the sign of its increment c = ±(1 − r).
struct MomentDecays {
  std::span<const double> decay;
  double increment_sign;
};

// Fills c.alpha, c.decay, c.increment and c.ratios (moment i at [i·P, (i+1)·P)) from one
// iteration's per-block values, unless they equal the last call's (kept in c.block_values):
// what every variant's Coefficients shares.
void ExpandStepCoefficients(const ParameterBlocks& blocks, std::span<const double> alpha,
                            std::initializer_list<MomentDecays> moments, StepCoefficients& c);

class ReversibleTraining {
 public:
  // Neither copied nor moved: the trajectory's replay hook refers to this object.
  ReversibleTraining(const ReversibleTraining&) = delete;
  ReversibleTraining& operator=(const ReversibleTraining&) = delete;
  virtual ~ReversibleTraining() = default;

  // w_T and the moments u_T (K·P values) after Train().
  std::span<const double> weights() const { return trajectory_->position(); }
  std::span<const double> moments() const { return trajectory_->moments(); }

  // Memory the method holds beyond w and the moments (bytes) and the buffer's information
  // (bits), as measured right after Train().
  std::size_t extra_bytes_after_train() const { return extra_bytes_; }
  double information_bits_after_train() const { return information_bits_; }
  // Forward steps recomputed by the reverse pass (checkpointing; 0 for the other methods).
  std::size_t recomputed_steps() const { return trajectory_->RecomputedSteps(); }
  // The most memory (bytes) the method has held beyond w and the moments since Train() began,
  // the reverse pass included (checkpointing holds recomputed states there).
  std::size_t peak_extra_bytes() const {
    return std::max(extra_bytes_, trajectory_->PeakExtraBytes());
  }
  const ExactOptimizer& optimizer() const { return *optimizer_; }

 protected:
  // `who` names the class in error messages. Throws std::invalid_argument if there is no model
  // or batch schedule or the blocks do not partition the model's parameters.
  ReversibleTraining(std::shared_ptr<const Model> model, ParameterBlocks blocks,
                     BatchSchedule batches, TrainingOptions options, std::string who);
  // Called once by the variant's constructor: its schedule, which must have as many blocks as
  // the partition (std::invalid_argument otherwise), and the trajectory for it.
  void SetOptimizer(std::unique_ptr<ExactOptimizer> optimizer, std::size_t schedule_blocks);

  // The T forward steps from (w0, u0). Throws std::invalid_argument for wrong sizes and
  // FixedPointOverflow naming the iteration and the parameter (or moment) if training leaves
  // the representable range ("training diverged at iteration 12, parameter W0[3,4]: ...");
  // after a failure Reverse refuses to run until a Train succeeds.
  void TrainFrom(std::span<const double> w0, std::span<const double> u0);
  // Start of Reverse: throws std::invalid_argument unless d_wT has P values and d_theta is
  // empty or has num_hyper(), then std::logic_error unless a trained state is there; consumes it
  // (once per Train). A call with wrong sizes leaves the trained state for a correct call.
  void BeginReverse(std::span<const double> d_wT, std::span<const double> d_theta);
  // "parameter W0[3,4]" for element k < P of the state (w), "m of parameter W0[3,4]" for
  // element P + i (the moments, K·P values after w).
  std::string StateElementName(std::size_t k) const;
  // The variant's name for moment vector i (0 ≤ i < K): "v", or "m" and "s".
  virtual std::string MomentName(std::size_t i) const = 0;

  const Model& model() const { return *model_; }
  const ParameterBlocks& blocks() const { return blocks_; }
  Batch BatchAt(std::size_t t) const { return batches_(t); }
  const TrainingOptions& options() const { return options_; }
  Trajectory& trajectory() { return *trajectory_; }

 private:
  std::shared_ptr<const Model> model_;
  ParameterBlocks blocks_;
  BatchSchedule batches_;
  TrainingOptions options_;
  std::string who_;
  std::unique_ptr<ExactOptimizer> optimizer_;
  std::unique_ptr<Trajectory> trajectory_;
  bool trained_ = false;
  std::size_t extra_bytes_ = 0;
  double information_bits_ = 0.0;
};

}  // namespace hypergrad

#endif  // HYPERGRAD_REVERSIBLE_TRAINING_H_
