// What every exactly reversible optimizer's training run shares (ReversibleSgd,
// ReversibleAdam, ReversibleRmsprop): the model, the parameter blocks and minibatches, the
// trajectory strategy that lets the reverse pass revisit the states, the forward loop, the
// reverse loop (each optimizer supplies one adjoint step, exact_optimizer.h), their error
// reporting and one result type. A variant adds its schedule (an ExactOptimizer).
//
// The reverse pass, from d_w = ∂f/∂w_T, d_u = 0, d_θ = ∂f/∂θ (direct term), for
// t = T−1 … first_step: the optimizer's AdjointStep::Position at u_{t+1}; w_{t+1} → w_t;
// g_t (and ḡ from GradientAdjoint); H·ḡ and ∇_θ⟨∇_w L, ḡ⟩ from the model in one pass with the
// gradient; u_{t+1} → u_t; AdjointStep::Moments.
#ifndef HYPERGRAD_OPTIMIZERS_REVERSIBLE_TRAINING_H_
#define HYPERGRAD_OPTIMIZERS_REVERSIBLE_TRAINING_H_

#include <algorithm>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "optimizers/batch_schedule.h"
#include "reversible/exact_optimizer.h"
#include "models/model.h"
#include "trajectories/trajectory.h"

namespace hypergrad {

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

// One hyperparameter's hypergradient, named as the optimizer names it ("gamma", "v", "eps").
struct NamedValues {
  std::string name;
  std::vector<double> values;
};

// Every hypergradient of one reverse pass, for any optimizer.
struct Hypergradients {
  std::vector<double> d_w0;             // ∂f/∂w_0 (zeros unless the pass ran to step 0)
  std::vector<NamedValues> d_u0;        // ∂f/∂u_0 per moment, named "v"; "m", "s"; ... (zeros
                                        // unless the pass ran to step 0)
  std::vector<double> d_alpha;          // T × B: ∂f/∂α[t][j] (α itself, not log α)
  std::vector<NamedValues> d_schedules; // T × B each: "gamma"; "beta1", "beta2"; "rho", "mu"
  std::vector<NamedValues> d_scalars;   // one value each: "eps"
  std::vector<double> d_theta;          // ∂f/∂θ (direct term plus the reverse pass)
  // Did the reverse pass arrive back at (w_0, u_0)? Checked only when it ran to step 0
  // (otherwise exact is false).
  ReversalCheck reversal;
  std::size_t first_step = 0;           // the pass ran from step T−1 down to this step

  // The entry of that name (std::out_of_range naming it otherwise). Rows of steps before
  // first_step are 0.
  const std::vector<double>& moment(std::string_view name) const;    // ∂f/∂u_0 of a moment
  const std::vector<double>& schedule(std::string_view name) const;  // "alpha" too
  double scalar(std::string_view name) const;
};

// Whether every hypergradient of a equals b's bit for bit (the reversal checks aside).
bool BitwiseEqual(const Hypergradients& a, const Hypergradients& b);

// Where a reverse pass stops: it runs steps T−1 … first_step (0 ≤ first_step ≤ T). A pass from
// first_step = T − K is K-step truncated backpropagation: rows of the schedules before it stay
// 0, and so do d_w0 and d_u0; first_step = 0 is the full pass.
struct ReverseOptions {
  std::size_t first_step = 0;
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

// One per-step schedule of a variant's schedule (iters × blocks values, row-major) by name.
struct NamedSchedule {
  std::string_view name;  // "gamma"
  const std::vector<double>& values;
};

// What every variant's schedule Validate shares. Throws std::invalid_argument, its message
// starting with `who` ("AdamSchedule: "), unless α and every decay have iters × blocks values
// ("… need N values of alpha, beta1 and beta2"), every α is finite and every decay lies in
// (0, decay_limit) ("beta1 at iteration t, block j = x is not in (0, 1)"); entries are checked
// in row-major order, α before the decays of the same entry.
void ValidateSchedules(std::string_view who, std::size_t iters, std::size_t blocks,
                       const std::vector<double>& alpha, std::initializer_list<NamedSchedule> decays,
                       double decay_limit = 1.0);

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
  const Model& model() const { return *model_; }

  // The T forward steps from (w0, u0) (u0: the K moments, K·P values, quantised to fixed
  // point). Throws std::invalid_argument for wrong sizes or moments the optimizer refuses, and
  // FixedPointOverflow naming the iteration and the parameter (or moment) if training leaves
  // the representable range ("training diverged at iteration 12, parameter W0[3,4]: ...");
  // after a failure Reverse refuses to run until a Train succeeds.
  void Train(std::span<const double> w0, std::span<const double> u0) { TrainFrom(w0, u0); }

  // Runs training backwards from d_w = ∂f/∂w_T (size P) and the direct term d_θ = ∂f/∂θ
  // (empty = zero, else size num_hyper()), from step T−1 down to options.first_step, and
  // returns every hypergradient. May be called once per successful Train(); a call with wrongly
  // sized arguments throws std::invalid_argument and leaves the trained state for a correct
  // call. Mixed products are only computed when the model has hyperparameters.
  Hypergradients Reverse(std::span<const double> d_wT, std::span<const double> d_theta = {},
                         ReverseOptions options = {});

 protected:
  // `who` names the class in error messages. Throws std::invalid_argument if there is no model
  // or batch schedule or the blocks do not partition the model's parameters.
  ReversibleTraining(std::shared_ptr<const Model> model, ParameterBlocks blocks,
                     BatchSchedule batches, TrainingOptions options, std::string who);
  // Called once by the variant's constructor: its schedule, which must have as many blocks as
  // the partition (std::invalid_argument otherwise), and the trajectory for it.
  void SetOptimizer(std::unique_ptr<ExactOptimizer> optimizer, std::size_t schedule_blocks);

  void TrainFrom(std::span<const double> w0, std::span<const double> u0);
  // Refuses initial moments the optimizer cannot start from (std::invalid_argument naming the
  // element), e.g. a negative second moment. Accepts everything by default.
  virtual void CheckInitialMoments(std::span<const double> u0) const { (void)u0; }
  // For CheckInitialMoments: std::invalid_argument naming the element unless every value of
  // moment i of u0 is ≥ 0 (a mean square).
  void RequireNonNegativeMoment(std::span<const double> u0, std::size_t i) const;
  // Start of Reverse: throws std::invalid_argument unless d_wT has P values and d_theta is
  // empty or has num_hyper(), then std::logic_error unless a trained state is there; consumes it
  // (once per Train). A call with wrong sizes leaves the trained state for a correct call.
  void BeginReverse(std::span<const double> d_wT, std::span<const double> d_theta);
  // "parameter W0[3,4]" for element k < P of the state (w), "m of parameter W0[3,4]" for
  // element P + i (the moments, K·P values after w).
  std::string StateElementName(std::size_t k) const;
  // The name of moment vector i in messages: the optimizer's MomentName unless overridden
  // (SGD's "velocity").
  virtual std::string MomentName(std::size_t i) const { return optimizer_->MomentName(i); }

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

// One run's "train → final objective → reverse" and what it measured: the path every tool
// (hypergrad, reversal_check, the Python module, the benchmarks) takes.
struct Objective {
  // f(w_T): returns f, writes ∂f/∂w_T into d_w (P values) and the direct term ∂f/∂θ into
  // d_theta (num_hyper() values, zeros on entry; leave it for an f without θ).
  std::function<double(std::span<const double> w_T, std::span<double> d_w,
                       std::span<double> d_theta)>
      f;
};

struct RunOutcome {
  double f = 0.0;                           // the objective at w_T
  std::vector<double> w_T, u_T;             // the state after training (u_T: K·P values)
  Hypergradients hypergradients;
  double information_bits = 0.0;            // the buffer's after training
  std::size_t extra_bytes = 0;              // held beyond w and u after training
  double seconds_forward = 0.0, seconds_reverse = 0.0;  // training (with f), reverse pass
};

struct RunHooks {
  std::function<void()> after_train;        // after Train and the objective
  std::function<void()> after_reverse;
  ReverseOptions reverse;
  bool copy_state = true;                   // fill w_T and u_T (the benchmarks measure memory)
};

// Trains `run` from (w0, u0), evaluates `objective` at w_T and runs training backwards.
RunOutcome TrainAndReverse(ReversibleTraining& run, std::span<const double> w0,
                           std::span<const double> u0, const Objective& objective,
                           const RunHooks& hooks = {});

}  // namespace hypergrad

#endif  // HYPERGRAD_OPTIMIZERS_REVERSIBLE_TRAINING_H_
