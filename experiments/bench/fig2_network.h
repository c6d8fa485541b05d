// The Fig-2 network for benchmarks: 784-50-50-50-10 (tanh), 8 parameter blocks, on generated
// inputs of MNIST's shape (no download), initial weights e^-3·N(0, 1), zero velocity, batches of
// 200 drawn with replacement, α = e^-1 and a momentum γ for every block.
#ifndef HYPERGRAD_EXPERIMENTS_BENCH_FIG2_NETWORK_H_
#define HYPERGRAD_EXPERIMENTS_BENCH_FIG2_NETWORK_H_

#include <cmath>
#include <memory>

#include "models/mlp.h"
#include "random/random.h"
#include "optimizers/reversible_sgd.h"
#include "optimizers/batch_schedule.h"

namespace hypergrad::bench {

class Fig2Network {
 public:
  // `threads` for each pass of the model (MlpOptions::threads; the same bits for any number) and
  // its tanh kernel.
  explicit Fig2Network(std::size_t rows, unsigned threads = 1, TanhKernel tanh = TanhKernel::kLibm)
      : rows_(rows) {
    auto data = std::make_shared<const Dataset>(MakeSyntheticDataset(rows, 784, 10, 1));
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
            RandomBatches(rows_, 200, 3)};
  }
  const Mlp& model() const { return *model_; }
  const std::vector<double>& w0() const { return w0_; }
  const std::vector<double>& v0() const { return v0_; }

 private:
  std::size_t rows_;
  std::shared_ptr<const Mlp> model_;
  ParameterBlocks blocks_;
  std::vector<double> w0_, v0_;
};

}  // namespace hypergrad::bench

#endif  // HYPERGRAD_EXPERIMENTS_BENCH_FIG2_NETWORK_H_
