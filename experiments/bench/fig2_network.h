// The Fig-2 network for benchmarks: 784-50-50-50-10 (tanh), 8 parameter blocks, on generated
// inputs of MNIST's shape (no download), initial weights e^-3·N(0, 1), zero velocity, batches of
// 200 drawn with replacement, α = e^-1 and a momentum γ for every block.
#ifndef HYPERGRAD_EXPERIMENTS_BENCH_FIG2_NETWORK_H_
#define HYPERGRAD_EXPERIMENTS_BENCH_FIG2_NETWORK_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>
#include <memory>

#include "models/gemm_trace.h"
#include "models/mlp.h"
#include "random/random.h"
#include "optimizers/reversible_sgd.h"
#include "optimizers/batch_schedule.h"

namespace hypergrad::bench {

// How the inputs are stored and batched: kRandomDoubles, float64 inputs in batches drawn with
// replacement (every pass gathers its rows from 63 MB); kToolLayout, as the hypergrad tool runs
// Fig 2: 8-bit pixels (an eighth of the memory) converted when read, batches in order.
enum class Fig2Data { kRandomDoubles, kToolLayout };

class Fig2Network {
 public:
  // `threads` for each pass of the model (MlpOptions::threads; the same bits for any number) and
  // its tanh kernel.
  explicit Fig2Network(std::size_t rows, unsigned threads = 1, TanhKernel tanh = TanhKernel::kLibm,
                       Fig2Data layout = Fig2Data::kRandomDoubles)
      : rows_(rows), layout_(layout) {
    auto data = std::make_shared<const Dataset>(layout == Fig2Data::kRandomDoubles
                                                    ? MakeSyntheticDataset(rows, 784, 10, 1)
                                                    : SyntheticPixels(rows));
    model_ = std::make_shared<const Mlp>(
        MlpOptions{{784, 50, 50, 50, 10}, {}, false, false, threads, tanh}, data);
    blocks_ = model_->layout().LayerParamBlocks();
    RandomStream rng(2);
    w0_.resize(model_->num_params());
    for (double& w : w0_) w = std::exp(-3.0) * rng.Normal();
    v0_.assign(w0_.size(), 0.0);
  }
  SgdSetup Setup(std::size_t iters, double gamma) const {
    return {model_, blocks_, SgdSchedule::Constant(iters, blocks_.num_blocks(), std::exp(-1.0), gamma),
            layout_ == Fig2Data::kRandomDoubles ? RandomBatches(rows_, 200, 3) : SequentialBatches(rows_, 200)};
  }
  const Mlp& model() const { return *model_; }
  // The products one training step (the gradient) and one reverse step (gradient and
  // Hessian-vector product) issue on the first batch, by whole shape (gemm_trace.h).
  std::vector<GemmShape> TrainingStepProducts() const { return StepProducts(false); }
  std::vector<GemmShape> ReverseStepProducts() const { return StepProducts(true); }
  const std::vector<double>& w0() const { return w0_; }
  const std::vector<double>& v0() const { return v0_; }

 private:
  // MakeSyntheticDataset's inputs and labels stored as hypergrad stores MNIST: 8-bit pixels
  // round(128 + 32·x) clamped to [0, 255], read as pixel/255 − the mean image (--normalize mean).
  static Dataset SyntheticPixels(std::size_t rows) {
    const Dataset d = MakeSyntheticDataset(rows, 784, 10, 1);
    std::vector<std::uint8_t> pixels(d.inputs.size());
    std::vector<double> mean(784, 0.0);
    for (std::size_t i = 0; i < pixels.size(); ++i) {
      pixels[i] = static_cast<std::uint8_t>(std::clamp(std::round(128.0 + 32.0 * d.inputs[i]), 0.0, 255.0));
      mean[i % 784] += pixels[i] / 255.0;
    }
    for (double& m : mean) m /= static_cast<double>(rows);
    return MakeCompactDataset(std::move(pixels), std::move(mean), 784, d.Labels(), 10);
  }
  std::vector<GemmShape> StepProducts(bool reverse) const {
    const std::size_t n = w0_.size();
    const Batch batch = Setup(1, 0.9).batches(0);
    std::vector<double> work(3 * n, 1e-3);  // the gradient, H·u and the direction u
    const std::span<double> g(work.data(), n), hv(work.data() + n, n), u(work.data() + 2 * n, n);
    GemmTrace trace;
    if (reverse) {
      model_->GradientAndHvp(w0_, batch, u, g, hv, {});
    } else {
      model_->Gradient(w0_, batch, g);
    }
    return trace.shapes();
  }
  std::size_t rows_;
  Fig2Data layout_;
  std::shared_ptr<const Mlp> model_;
  ParameterBlocks blocks_;
  std::vector<double> w0_, v0_;
};

}  // namespace hypergrad::bench

#endif  // HYPERGRAD_EXPERIMENTS_BENCH_FIG2_NETWORK_H_
