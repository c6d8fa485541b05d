// The training problem of Figs 2–5 (the authors' experiments/Feb_3_training_schedules/): a
// 784-50-50-50-10 tanh network on the first 10,000 MNIST training images (mean image of the 60,000
// subtracted), T = 100 iterations of batches of 200 drawn with replacement, per-block schedules for
// the 8 blocks (weights and biases of each layer), w_0 = exp(log s_block)·N(0, 1), v_0 = 0.
// Meta-objective: mean NLL on all 10,000 *training* images at w_T (as the authors' code).
#ifndef HYPERGRAD_EXPERIMENTS_COMMON_FIG2_PROBLEM_H_
#define HYPERGRAD_EXPERIMENTS_COMMON_FIG2_PROBLEM_H_

#include <memory>
#include <string>
#include <vector>

#include "common/experiment.h"
#include "meta/hyperparams.h"
#include "models/mlp.h"
#include "optimizers/reversible_adam.h"
#include "optimizers/reversible_sgd.h"

namespace hypergrad::experiments {

struct Fig2Settings {
  std::size_t iters = 100;      // T
  std::size_t batch_size = 200;
  double initial_log_alpha = -1.0;
  double initial_gamma = 0.5;   // logit 0
  double initial_log_scale = -3.0;
  double l2 = 1.3838965267367376e-87;  // e^-100: the authors' fixed, effectively-zero penalty
};

// The outcome of one training run and its reverse pass.
struct Fig2Run {
  double train_loss = 0, valid_loss = 0, test_loss = 0, test_error = 0;
  std::vector<double> batch_curve;  // batch loss before each update, t = 0 … T−1
  std::vector<double> full_curve;   // loss on all training images at w_t (if asked for)
  std::vector<double> gradient;     // ∂(train loss)/∂(flattened hyperparameters)
  bool exact = false;               // reverse pass recovered w_0, v_0 bit for bit
  bool diverged = false;            // weights left the fixed-point range (other fields unset)
};

// The outcome of one run with Adam as the inner optimizer (adam_schedules).
struct Fig2AdamRun {
  double train_loss = 0, valid_loss = 0, test_loss = 0, test_error = 0;
  Hypergradients hypergradients;  // of the mean validation NLL at w_T (if asked for)
  bool exact = false;                 // reverse pass recovered w_0, m_0, s_0 bit for bit
  bool diverged = false;              // the state left the fixed-point range (other fields unset)
  double info_bits_per_param_per_step = 0;
  std::size_t extra_bytes = 0;        // the buffer after training
  double max_second_moment = 0;       // largest s_T (its fixed-point range is s < 2048)
};

class Fig2Problem {
 public:
  // Loads MNIST from `mnist_dir` and builds the splits (10,000 train, valid, test). Runs draw
  // from `options.streams` with `options.seed` and use `options.buffer`.
  Fig2Problem(const std::string& mnist_dir, Fig2Settings settings, const ExperimentOptions& options);

  const Fig2Settings& settings() const { return settings_; }
  const ParameterBlocks& blocks() const { return blocks_; }
  SgdScheduleHyperparameters InitialHyperparameters() const;
  // The first `count` values of run k's ε and the first rows of its batch 0 (provenance: lets a
  // test compare the draws with numpy's).
  std::vector<double> FirstEpsilon(std::uint64_t k, std::size_t count) const;
  std::vector<std::int64_t> FirstBatchRows(std::uint64_t k, std::size_t count) const;

  // Trains with `hypers` using run k's random numbers, runs the reverse pass (unless
  // `hypergradient` is false) and evaluates. The authors' draws: ε = RandomState((seed, k))
  // .randn(P), batch t = RandomState((seed, k, t)).randint(10000, size=200); native: ε from
  // (seed, {0, k}), batch t from (seed, {k, t}).
  // `threads` are used for the full-training-set learning curve (if `full_curve`).
  Fig2Run Run(const SgdScheduleHyperparameters& hypers, std::uint64_t k, bool full_curve,
              bool hypergradient = true, unsigned threads = 1) const;

  // Run k with Adam (schedule given per iteration and block; m_0 = s_0 = 0; w_0 =
  // e^{initial_log_scale}·ε_k), the same batches as Run; with `hypergradient`, the reverse pass
  // of the mean NLL on the 10,000 validation images at w_T.
  Fig2AdamRun RunAdam(const AdamSchedule& schedule, std::uint64_t k, bool hypergradient) const;

 private:
  // The standard normals ε of run k (w_0 = scale ⊙ ε) and its batch schedule.
  std::vector<double> Epsilon(std::uint64_t k) const;
  BatchSchedule Batches(std::uint64_t k) const;

  Fig2Settings settings_;
  std::uint64_t seed_;
  Streams streams_;
  BufferKind buffer_;
  std::shared_ptr<const Dataset> train_;
  Dataset valid_, test_;
  std::shared_ptr<const Mlp> model_;
  ParameterBlocks blocks_;
};

}  // namespace hypergrad::experiments

#endif  // HYPERGRAD_EXPERIMENTS_COMMON_FIG2_PROBLEM_H_
