// Fig 7: a training set of ten images (one per digit) learned, pixel by pixel, from the exact
// hypergradient of the validation loss of a logistic regression trained on it (the authors'
// experiments/Jan_19_optimize_data/9_color_bar/experiment.py).
//
// Settings                 paper                 authors' code (followed)
//   learned                10 images             7,840 pixels + log λ (one L2 penalty): 7,841
//   initial images         "blank"               N(0, 0.01²) noise; labels 0 … 9 fixed
//   training               —                     [784, 10], T = 20, full batch, α = 1, γ = 0.9,
//                                                w_0 = N(0, 1)·e^-4 drawn once, λ_0 = 0.01
//   validation / test      10,000 / —            first 10,000 training images / first 1,000
//                                                test images, mean image subtracted
//   meta-optimizer         —                     gradient descent, step 1, 40 meta-iterations
// Quick mode: 3 meta-iterations.
#include <cmath>
#include <iostream>

#include "common/experiment.h"
#include "common/meta_curves.h"
#include "common/mnist_source.h"
#include "common/progress.h"
#include "meta/meta_optimizers.h"
#include "models/mlp.h"
#include "random/numpy_random.h"
#include "random/random.h"
#include "optimizers/reversible_sgd.h"
#include "optimizers/batch_schedule.h"

namespace hypergrad::experiments {
namespace {

constexpr std::size_t kImages = 10, kPixels = 784, kIters = 20, kMetaIters = 40, kQuickMetaIters = 3;
constexpr double kAlpha = 1.0, kGamma = 0.9, kLogInitScale = -4.0, kInitialLogL2 = -4.605170185988091;
constexpr double kNoise = 0.01, kMetaStep = 1.0;

double StdDev(std::span<const double> x) {
  double mean = 0.0, sq = 0.0;
  for (double v : x) mean += v / static_cast<double>(x.size());
  for (double v : x) sq += (v - mean) * (v - mean);
  return std::sqrt(sq / static_cast<double>(x.size()));
}

int Run(const ExperimentOptions& options, const std::string& mnist_dir, const Provenance& provenance) {
  const std::size_t meta_iters = options.quick ? kQuickMetaIters : kMetaIters;
  MnistData mnist = LoadMnistFrom(mnist_dir);
  const std::vector<double> mean = MeanInput(mnist.train);
  SubtractMean(mnist.train, mean);
  SubtractMean(mnist.test, mean);
  const Dataset valid = mnist.train.Slice(0, 10000);
  const Dataset test = mnist.test.Slice(0, 1000);
  const double real_std = StdDev(valid.inputs);
  const MlpLayout layout({kPixels, 10});
  const std::size_t n = layout.num_params();
  // The authors reset npr.seed(0) before every meta-iteration and draw v_0 = randn·0, then w_0:
  // the same w_0 each time (and the same as Fig 6's).
  const std::vector<double> w0 = SeededInitialWeights(n, kLogInitScale, options.seed, options.streams);
  const std::vector<double> v0(n, 0.0);
  std::vector<std::size_t> labels(kImages);
  for (std::size_t c = 0; c < kImages; ++c) labels[c] = c;

  // θ = [log λ, pixels of the 10 images].
  std::vector<double> theta(1 + kImages * kPixels);
  theta[0] = kInitialLogL2;
  // The authors: npr.seed(0); randn(10, 784)·0.01, the first draw of the run.
  if (options.streams == Streams::kAuthors) {
    if (options.seed > 0xFFFFFFFFu) throw std::invalid_argument("--seed: numpy seeds are below 2^32");
    NumpyRandomState noise(static_cast<std::uint32_t>(options.seed));
    for (std::size_t i = 1; i < theta.size(); ++i) theta[i] = noise.StandardNormal() * kNoise;
  } else {
    RandomStream noise(options.seed, {1});
    for (std::size_t i = 1; i < theta.size(); ++i) theta[i] = kNoise * noise.Normal();
  }
  GradientDescent meta(kMetaStep);
  std::vector<double> valid_loss, test_loss, test_error, fake_loss, fake_loss_l2, l2s, fake_std, images;
  std::vector<std::int64_t> exact;
  Progress progress("fig07 meta-iterations", meta_iters, !options.quiet, 0.0);
  for (std::size_t k = 0; k < meta_iters; ++k) {
    const double l2 = std::exp(theta[0]);
    auto fake = std::make_shared<const Dataset>(
        MakeDataset(std::vector<double>(theta.begin() + 1, theta.end()), kPixels, labels, 10));
    auto model = std::make_shared<const Mlp>(MlpOptions{layout.sizes(), {l2}, true, true}, fake);
    ReversibleSgd sgd({model, ParameterBlocks::Single(n), SgdSchedule::Constant(kIters, 1, kAlpha, kGamma),
                       SequentialBatches(kImages, kImages)},
                      TrainingOptions{.buffer = options.buffer});
    sgd.Train(w0, v0);
    std::vector<double> d_w(n), scratch(n);
    const double valid_nll = model->Evaluate(sgd.weights(), valid, d_w).nll;
    const Evaluation t = model->Evaluate(sgd.weights(), test);
    valid_loss.push_back(valid_nll);
    test_loss.push_back(t.nll);
    test_error.push_back(t.error);
    fake_loss.push_back(model->Evaluate(sgd.weights(), *fake).nll);
    // The authors' learning curve ends with the training loss itself: NLL + λ‖w‖².
    fake_loss_l2.push_back(model->Gradient(sgd.weights(), SequentialBatches(kImages, kImages)(0), scratch));
    l2s.push_back(l2);
    fake_std.push_back(StdDev(fake->inputs) / real_std);
    images.insert(images.end(), theta.begin() + 1, theta.end());  // the images of run k

    const Hypergradients h = sgd.Reverse(d_w);  // no direct term: f does not depend on θ
    if (!h.reversal.exact) throw std::runtime_error("reverse pass of meta-iteration " + std::to_string(k) + " was not exact");
    exact.push_back(h.reversal.exact);
    std::vector<double> g = h.d_theta;  // [∂f/∂λ, ∂f/∂pixels]
    g[0] *= l2;                         // ∂f/∂log λ
    progress.Update(k + 1, "valid loss " + std::to_string(valid_nll) + ", test error " + std::to_string(t.error));
    meta.Step(k, g, theta);
  }

  WriteResult(options, "fig07_learned_data", provenance, [&](H5Writer& w) {
    w.Write("/images", images, {meta_iters, kImages, 28, 28});
    w.Write("/streams/w0_first", std::vector<double>(w0.begin(), w0.begin() + 8));
    WriteMetaCurves(
        w, {.valid_loss = valid_loss,
            .test_loss = test_loss,
            .test_error = test_error,
            .reversal_exact = exact,
            .more = {{"fake_loss", fake_loss},
                     {"fake_training_loss", fake_loss_l2, {},
                      "the training loss on the learned images at w_T: mean NLL + lambda * |w|^2 "
                      "(the last point of the authors' learning curve)"},
                     {"l2", l2s},
                     {"fake_to_real_std", fake_std}}});
    w.SetAttribute("/images", "meaning", "the 10 learned images (digits 0-9) used in run k, mean-subtracted pixel space");
    w.SetAttribute("/", "iters", kIters);
    w.SetAttribute("/", "meta_iters", meta_iters);
    w.SetAttribute("/", "alpha", kAlpha);
    w.SetAttribute("/", "gamma", kGamma);
    w.SetAttribute("/", "initial_l2", std::exp(kInitialLogL2));
    w.SetAttribute("/", "initial_noise", kNoise);
    w.SetAttribute("/", "meta_optimizer", "gradient descent, step 1, on (log lambda, pixels)");
    w.SetAttribute("/", "meta_objective", "validation mean NLL (first 10,000 training images)");
  });
  return 0;
}

}  // namespace
}  // namespace hypergrad::experiments

int main(int argc, char** argv) {
  using namespace hypergrad::experiments;
  return MnistExperimentMain(
      argc, argv, "fig07_learned_data",
      "Fig 7: learns a training set of ten images (and an L2 penalty) from the exact "
      "hypergradient of a logistic regression's validation loss.",
      Run);
}
