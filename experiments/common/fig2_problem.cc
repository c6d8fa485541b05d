#include "common/fig2_problem.h"

#include <algorithm>
#include <cmath>

#include "common/experiment.h"
#include "common/mnist_source.h"
#include "arithmetic/fixed_point.h"
#include "random/numpy_random.h"
#include "random/random.h"
#include "optimizers/reversible_sgd.h"
#include "optimizers/batch_schedule.h"

namespace hypergrad::experiments {

Fig2Problem::Fig2Problem(const std::string& mnist_dir, Fig2Settings settings,
                         const ExperimentOptions& options)
    : settings_(settings), seed_(options.seed), streams_(options.streams), buffer_(options.buffer) {
  MnistData mnist = LoadMnistFrom(mnist_dir);
  const std::vector<double> mean = MeanInput(mnist.train);
  SubtractMean(mnist.train, mean);
  SubtractMean(mnist.test, mean);
  std::vector<Dataset> splits = ConsecutiveSplits(mnist, {10000, 10000, 10000});
  train_ = std::make_shared<const Dataset>(std::move(splits[0]));
  valid_ = std::move(splits[1]);
  test_ = std::move(splits[2]);
  model_ = std::make_shared<const Mlp>(
      MlpOptions{{784, 50, 50, 50, 10}, {settings_.l2}, false, false}, train_);
  blocks_ = model_->layout().LayerParamBlocks();
}

SgdScheduleHyperparameters Fig2Problem::InitialHyperparameters() const {
  return SgdScheduleHyperparameters::Constant(settings_.iters, blocks_.num_blocks(),
                                              settings_.initial_log_alpha, settings_.initial_gamma,
                                              settings_.initial_log_scale);
}

std::vector<double> Fig2Problem::Epsilon(std::uint64_t k) const {
  const std::size_t n = model_->num_params();
  if (streams_ == Streams::kAuthors) {
    return AuthorsRandomState({static_cast<std::int64_t>(seed_), static_cast<std::int64_t>(k)}).Randn(n);
  }
  RandomStream rng(seed_, {0, k});
  std::vector<double> epsilon(n);
  for (double& e : epsilon) e = rng.Normal();
  return epsilon;
}

BatchSchedule Fig2Problem::Batches(std::uint64_t k) const {
  if (streams_ == Streams::kAuthors) {
    return AuthorsRandomBatches(train_->rows, settings_.batch_size, static_cast<std::int64_t>(seed_),
                                static_cast<std::int64_t>(k));
  }
  return RandomBatches(train_->rows, settings_.batch_size, seed_, k);
}

std::vector<double> Fig2Problem::FirstEpsilon(std::uint64_t k, std::size_t count) const {
  std::vector<double> e = Epsilon(k);
  e.resize(std::min(count, e.size()));
  return e;
}

std::vector<std::int64_t> Fig2Problem::FirstBatchRows(std::uint64_t k, std::size_t count) const {
  const Batch b = Batches(k)(0);
  std::vector<std::int64_t> rows;
  for (std::size_t i = 0; i < std::min(count, b.rows.size()); ++i) rows.push_back(static_cast<std::int64_t>(b.rows[i]));
  return rows;
}

Fig2Run Fig2Problem::Run(const SgdScheduleHyperparameters& hypers, std::uint64_t k, bool full_curve,
                         bool hypergradient, unsigned threads) const {
  const std::size_t n = model_->num_params();
  const std::vector<double> w0 = ScaledInitialWeights(blocks_, hypers.log_init_scale, Epsilon(k));

  Fig2Run run;
  std::vector<std::vector<double>> positions;
  TrainingOptions options;
  options.buffer = buffer_;
  options.on_step = [&](std::size_t, std::span<const double> w, double loss) {
    run.batch_curve.push_back(loss);
    if (full_curve) positions.emplace_back(w.begin(), w.end());
  };
  ReversibleSgd sgd({model_, blocks_, hypers.ToSchedule(), Batches(k)}, options);
  try {
    sgd.Train(w0, std::vector<double>(n, 0.0));
  } catch (const FixedPointOverflow&) {
    run.diverged = true;
    return run;
  }
  std::vector<double> d_w(n);
  run.train_loss = model_->Evaluate(sgd.weights(), *train_, d_w).nll;
  run.valid_loss = model_->Evaluate(sgd.weights(), valid_).nll;
  const Evaluation test = model_->Evaluate(sgd.weights(), test_);
  run.test_loss = test.nll;
  run.test_error = test.error;
  if (full_curve) {
    run.full_curve.resize(positions.size());
    ParallelFor(positions.size(), threads, [&](std::size_t t) {
      run.full_curve[t] = model_->Evaluate(positions[t], *train_).nll;
    });
  }
  if (hypergradient) {
    const Hypergradients h = sgd.Reverse(d_w);
    run.exact = h.reversal.exact;
    run.gradient = hypers.FlatGradient(h, blocks_, w0);
  }
  return run;
}

Fig2AdamRun Fig2Problem::RunAdam(const AdamSchedule& schedule, std::uint64_t k,
                                 bool hypergradient) const {
  const std::size_t n = model_->num_params();
  std::vector<double> w0 = Epsilon(k);
  for (double& w : w0) w *= std::exp(settings_.initial_log_scale);
  Fig2AdamRun run;
  ReversibleAdam adam({model_, blocks_, schedule, Batches(k)}, {.buffer = buffer_});
  try {
    adam.Train(w0);
  } catch (const FixedPointOverflow&) {
    run.diverged = true;
    return run;
  }
  run.info_bits_per_param_per_step =
      adam.information_bits_after_train() / static_cast<double>(n * schedule.iters);
  run.extra_bytes = adam.extra_bytes_after_train();
  for (double s : adam.second_moment()) run.max_second_moment = std::max(run.max_second_moment, s);
  std::vector<double> d_w(n);
  run.train_loss = model_->Evaluate(adam.weights(), *train_).nll;
  run.valid_loss = model_->Evaluate(adam.weights(), valid_, d_w).nll;
  const Evaluation test = model_->Evaluate(adam.weights(), test_);
  run.test_loss = test.nll;
  run.test_error = test.error;
  if (hypergradient) {
    run.hypergradients = adam.Reverse(d_w);
    run.exact = run.hypergradients.reversal.exact;
  }
  return run;
}

}  // namespace hypergrad::experiments
