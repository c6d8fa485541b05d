// Fig 10: training loss and its gradient with respect to the log learning rate, over a fine grid of
// learning rates (the authors' experiments/Jan_14_learning_rate_wiggliness/3/experiment.py). At
// high rates the loss surface becomes chaotic and the gradient uninformative.
//
// Settings                paper                authors' code (followed)
//   network               2 hidden layers      [784, 200, 50, 10], tanh, no L2
//   data                  MNIST                first 1,000 training images, pixels/255 (no mean)
//   iterations, batches   50                   T = 50, 4 fixed batches of 250, cycled
//   momentum γ            —                    0.9 (applied as 58983/65536)
//   learning rates        —                    1,000 values of log α in [0.5, 2.5]; one α for all
//   initial weights       —                    N(0, 1)·e^-2, the same for every α: npr.seed(0),
//                                              v_0 = randn(N)·0 (drawn, discarded), randn(N)·e^-2
// Quick mode: 16 values of log α. Beyond the paper: how much the onset of chaos depends on the
// draw. The main draw and --extra-seeds more (npr.seed(seed + s), the same order of draws;
// default 8, quick 0) are swept on one coarser grid (41 values), so every draw is measured on
// the same grid: "first |gradient| > 0.5" depends on the grid as much as on the draw. And how
// sensitive each point the report compares is: the points of kReferenceIndices run again with
// the other buffer, whose popped digits differ from the authors' by < 2^16 units of 2^-52 in v.
#include <cmath>
#include <iostream>
#include <limits>

#include "common/distributed.h"
#include "common/experiment.h"
#include "common/mnist_source.h"
#include "common/progress.h"
#include "arithmetic/fixed_point.h"
#include "models/mlp.h"
#include "optimizers/reversible_sgd.h"
#include "optimizers/batch_schedule.h"

namespace hypergrad::experiments {
namespace {

const std::vector<std::size_t> kLayers = {784, 200, 50, 10};
constexpr std::size_t kTrainSize = 1000, kBatchSize = 250, kIters = 50;
constexpr double kGamma = 0.9, kLogInitScale = -2.0;
constexpr double kLogAlphaLow = 0.5, kLogAlphaHigh = 2.5;
constexpr std::size_t kPoints = 1000, kQuickPoints = 16, kExtraPoints = 41;
constexpr std::size_t kUnset = static_cast<std::size_t>(-1);
// Grid points (of the 1,000-point grid) where the authors' results (their results.pkl;
// analysis/fig10.py's REFERENCE) give values to compare: log α 0.5, 1.0005, 1.483, 1.6592, 1.9995,
// 2.2, 2.4, 2.5.
const std::vector<std::size_t> kReferenceIndices = {0, 250, 491, 579, 749, 849, 949, 999};

struct Point {
  double loss = std::numeric_limits<double>::quiet_NaN();
  double gradient = std::numeric_limits<double>::quiet_NaN();  // d loss / d log α
  bool diverged = false;
  bool exact = false;
};

std::vector<double> Grid(std::size_t points) {
  std::vector<double> log_alphas(points);
  for (std::size_t i = 0; i < points; ++i) {
    log_alphas[i] = points == 1 ? kLogAlphaLow
                                : kLogAlphaLow + (kLogAlphaHigh - kLogAlphaLow) * static_cast<double>(i) /
                                                     static_cast<double>(points - 1);
  }
  return log_alphas;
}

// Loss at w_T and its gradient with respect to log α for every learning rate of the grid, all
// runs starting from w0.
std::vector<Point> Sweep(const std::shared_ptr<const Mlp>& model, std::span<const double> w0,
                         const std::vector<double>& log_alphas, const ExperimentOptions& options,
                         const std::string& label) {
  const std::size_t n = model->num_params(), points = log_alphas.size();
  const ParameterBlocks blocks = ParameterBlocks::Single(n);
  const std::vector<double> v0(n, 0.0);
  const Dataset& data = model->data();
  Progress progress(label, points, !options.quiet, 5.0);
  // Split over MPI ranks (if any) and threads; every result is one run, whole.
  const auto rows = DistributedMap(points, options.threads, [&](std::size_t i) {
    const double alpha = std::exp(log_alphas[i]);
    ReversibleSgd sgd({model, blocks, SgdSchedule::Constant(kIters, 1, alpha, kGamma),
                       SequentialBatches(kTrainSize, kBatchSize)},
                      TrainingOptions{.buffer = options.buffer});
    Point p;
    // Only training that leaves ±2048 is divergence (data: recorded, not numbers); the reverse
    // pass revisits the same states, so an overflow there is a fault and ends the run.
    try {
      sgd.Train(w0, v0);
    } catch (const FixedPointOverflow&) {
      p.diverged = true;
    }
    if (!p.diverged) {
      std::vector<double> d_w(n);
      p.loss = model->Evaluate(sgd.weights(), data, d_w).nll;
      const Hypergradients h = sgd.Reverse(d_w);
      double d_alpha = 0.0;
      for (double d : h.d_alpha) d_alpha += d;
      p.gradient = alpha * d_alpha;
      p.exact = h.reversal.exact;
    }
    return std::vector<double>{p.loss, p.gradient, p.diverged ? 1.0 : 0.0, p.exact ? 1.0 : 0.0};
  }, [&](std::size_t done) { progress.Update(done); });
  std::vector<Point> results(points);
  for (std::size_t i = 0; i < points; ++i) {
    results[i] = {rows[i][0], rows[i][1], rows[i][2] != 0.0, rows[i][3] != 0.0};
  }
  progress.Finish();
  return results;
}

int Run(const ExperimentOptions& options, const std::string& mnist_dir, std::size_t points_flag,
        std::size_t extra_seeds_flag, const Provenance& provenance) {
  const std::size_t points = points_flag ? points_flag : (options.quick ? kQuickPoints : kPoints);
  const std::size_t extra_seeds = extra_seeds_flag != kUnset ? extra_seeds_flag : (options.quick ? 0 : 8);
  MnistData mnist = LoadMnistFrom(mnist_dir);
  auto data = std::make_shared<const Dataset>(mnist.train.Slice(0, kTrainSize));
  auto model = std::make_shared<const Mlp>(MlpOptions{kLayers, {}, false, false}, data);
  const std::size_t n = model->num_params();
  const std::vector<double> log_alphas = Grid(points);
  const std::vector<double> w0 = SeededInitialWeights(n, kLogInitScale, options.seed, options.streams);
  const std::vector<Point> results = Sweep(model, w0, log_alphas, options, "fig10 learning rates");

  // Row 0: the main draw on the coarse grid; rows 1 … extra_seeds: the other draws.
  const std::vector<double> extra_grid = Grid(kExtraPoints);
  std::vector<double> extra_loss, extra_gradient;
  std::vector<std::int64_t> extra_seed_values;
  for (std::size_t s = 0; extra_seeds > 0 && s <= extra_seeds; ++s) {
    const std::uint64_t seed = options.seed + s;
    const std::vector<Point> sweep =
        Sweep(model, s == 0 ? w0 : SeededInitialWeights(n, kLogInitScale, seed, options.streams), extra_grid, options,
              "fig10 coarse grid, draw " + std::to_string(s));
    for (const Point& p : sweep) {
      extra_loss.push_back(p.loss);
      extra_gradient.push_back(p.gradient);
    }
    extra_seed_values.push_back(static_cast<std::int64_t>(seed));
  }

  // The sensitivity check: the reference points again with the other buffer.
  std::vector<std::size_t> perturbed_indices;
  for (const std::size_t i : kReferenceIndices) {
    if (i < points) perturbed_indices.push_back(i);
  }
  if (points != kPoints) perturbed_indices = {0, points - 1};
  std::vector<double> perturbed_alphas;
  for (const std::size_t i : perturbed_indices) perturbed_alphas.push_back(log_alphas[i]);
  ExperimentOptions other = options;
  other.buffer = options.buffer == BufferKind::kExact ? BufferKind::kFast : BufferKind::kExact;
  const std::vector<Point> perturbed = Sweep(model, w0, perturbed_alphas, other, "fig10 other buffer");

  std::vector<double> loss(points), gradient(points);
  std::vector<std::int64_t> diverged(points), exact(points);
  std::size_t inexact = 0;
  for (std::size_t i = 0; i < points; ++i) {
    loss[i] = results[i].loss;
    gradient[i] = results[i].gradient;
    diverged[i] = results[i].diverged;
    exact[i] = results[i].exact;
    inexact += !results[i].diverged && !results[i].exact;
  }
  if (inexact > 0) {
    throw std::runtime_error(std::to_string(inexact) + " reverse passes were not exact");
  }
  WriteResult(options, "fig10_chaos", provenance, [&](H5Writer& w) {
    w.Write("/log_alpha", log_alphas);
    w.Write("/streams/w0_first", std::vector<double>(w0.begin(), w0.begin() + 8));
    w.SetAttribute("/streams", "meaning", "the first 8 initial weights");
    w.Write("/loss", loss);
    w.Write("/gradient", gradient);
    w.WriteInts("/diverged", diverged);
    w.WriteInts("/reversal_exact", exact);
    w.SetAttribute("/", "layers", "784,200,50,10");
    w.SetAttribute("/", "train_size", kTrainSize);
    w.SetAttribute("/", "normalize", "none (pixels/255)");
    w.SetAttribute("/", "batch_size", kBatchSize);
    w.SetAttribute("/", "batch_order", "sequential, cycled");
    w.SetAttribute("/", "iters", kIters);
    w.SetAttribute("/", "gamma", kGamma);
    w.SetAttribute("/", "log_init_scale", kLogInitScale);
    w.SetAttribute("/", "objective", "mean cross-entropy on the 1,000 training images at w_T");
    w.SetAttribute("/gradient", "meaning", "d loss / d log alpha = alpha * sum_t d loss / d alpha_t");
    std::vector<double> p_loss, p_gradient;
    std::vector<std::int64_t> p_index;
    for (std::size_t j = 0; j < perturbed.size(); ++j) {
      p_loss.push_back(perturbed[j].loss);
      p_gradient.push_back(perturbed[j].gradient);
      p_index.push_back(static_cast<std::int64_t>(perturbed_indices[j]));
    }
    w.WriteInts("/perturbed/index", p_index);
    w.Write("/perturbed/loss", p_loss);
    w.Write("/perturbed/gradient", p_gradient);
    w.SetAttribute("/perturbed", "buffer", std::string(BufferKindName(other.buffer)));
    w.SetAttribute("/perturbed", "meaning",
                   "the grid points /perturbed/index run again with the other information buffer: "
                   "its popped digits move v by < 2^16 units of 2^-52 per step, a measure of how "
                   "much a tiny change of the trajectory moves each point (NaN: diverged)");
    if (extra_seeds > 0) {
      w.Write("/seeds/log_alpha", extra_grid);
      w.Write("/seeds/loss", extra_loss, {extra_seeds + 1, kExtraPoints});
      w.Write("/seeds/gradient", extra_gradient, {extra_seeds + 1, kExtraPoints});
      w.WriteInts("/seeds/seed", extra_seed_values);
      w.SetAttribute("/seeds", "meaning", "the same sweep on a coarser grid (41 points) for the main draw (row 0) and other initial-weight draws (rows 1...: seed + row), NaN: diverged");
    }
  });
  return 0;
}

}  // namespace
}  // namespace hypergrad::experiments

int main(int argc, char** argv) {
  using namespace hypergrad::experiments;
  std::size_t points = 0, extra_seeds = kUnset;
  return MnistExperimentMain(
      argc, argv, "fig10_chaos",
      "Fig 10: training loss after 50 iterations and its exact gradient with respect to the log "
      "learning rate, for 1,000 learning rates (--quick: 16).",
      [&](const auto& o, const std::string& mnist_dir, const auto& p) {
        return Run(o, mnist_dir, points, extra_seeds, p);
      },
      [&](CLI::App& app) {
        app.add_option("--points", points, "number of log learning rates (default 1000; quick 16)")
            ->check(CLI::Range(1, 100000));
        app.add_option("--extra-seeds", extra_seeds,
                       "more initial-weight draws (seed + 1, ...) swept with the main draw on a 41-point grid (default 8; quick 0)")
            ->check(CLI::Range(0, 100));
      });
}
