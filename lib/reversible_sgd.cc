#include "reversible_sgd.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "fixed_point.h"
#include "numpy_random.h"
#include "parallel.h"
#include "random.h"

namespace hypergrad {

Schedule Schedule::Constant(std::size_t iters, std::size_t blocks, double alpha, double gamma) {
  return {iters, blocks, std::vector<double>(iters * blocks, alpha),
          std::vector<double>(iters * blocks, gamma)};
}

void Schedule::Validate() const {
  if (alpha.size() != iters * blocks || gamma.size() != iters * blocks) {
    throw std::invalid_argument("Schedule: " + std::to_string(iters) + " iterations × " +
                                std::to_string(blocks) + " blocks need " +
                                std::to_string(iters * blocks) + " values of alpha and gamma");
  }
  for (std::size_t i = 0; i < alpha.size(); ++i) {
    const std::size_t t = i / blocks, j = i % blocks;
    if (!std::isfinite(alpha[i])) {
      throw std::invalid_argument("Schedule: alpha at iteration " + std::to_string(t) +
                                  ", block " + std::to_string(j) + " is not finite");
    }
    if (!(gamma[i] > 0.0 && gamma[i] < 2.0)) {
      throw std::invalid_argument("Schedule: gamma at iteration " + std::to_string(t) +
                                  ", block " + std::to_string(j) + " = " +
                                  std::to_string(gamma[i]) + " is not in (0, 2)");
    }
  }
}

BatchSchedule SequentialBatches(std::size_t rows, std::size_t batch_size) {
  if (batch_size == 0 || batch_size > rows) {
    throw std::invalid_argument("batch size " + std::to_string(batch_size) + " for " +
                                std::to_string(rows) + " rows");
  }
  const std::size_t count = rows / batch_size;
  return [count, batch_size](std::size_t t) {
    Batch b;
    b.rows.resize(batch_size);
    const std::size_t start = (t % count) * batch_size;
    for (std::size_t j = 0; j < batch_size; ++j) b.rows[j] = start + j;
    return b;
  };
}

BatchSchedule RandomBatches(std::size_t rows, std::size_t batch_size, std::uint64_t seed,
                            std::uint64_t stream) {
  if (batch_size == 0 || rows == 0) {
    throw std::invalid_argument("random batches need rows and a positive batch size");
  }
  return [=](std::size_t t) {
    RandomStream rng(seed, {stream, t});
    Batch b;
    b.rows.resize(batch_size);
    for (std::size_t& r : b.rows) r = rng.UniformInt(rows);
    return b;
  };
}

BatchSchedule AuthorsRandomBatches(std::size_t rows, std::size_t batch_size, std::int64_t seed,
                                   std::int64_t run) {
  if (batch_size == 0 || rows == 0 || rows > (std::size_t{1} << 32)) {
    throw std::invalid_argument("the authors' random batches need 1 to 2^32 rows and a positive "
                                "batch size, got " + std::to_string(rows) + " rows, batch " +
                                std::to_string(batch_size));
  }
  return [=](std::size_t t) {
    NumpyRandomState rng = AuthorsRandomState({seed, run, static_cast<std::int64_t>(t)});
    Batch b;
    b.rows.resize(batch_size);
    for (std::size_t& r : b.rows) r = rng.RandInt(rows);
    return b;
  };
}

namespace {

// SGD with momentum in the form of exact_optimizer.h: u = v, r = γ, c = −(1−γ), φ(g) = g,
// Δ(u) = v.
class SgdMomentum final : public ExactOptimizer {
 public:
  SgdMomentum(Schedule schedule, const ParameterBlocks& blocks)
      : schedule_(std::move(schedule)), blocks_(blocks) {}

  std::string_view name() const override { return "sgd"; }
  std::size_t num_moments() const override { return 1; }
  std::size_t iters() const override { return schedule_.iters; }

  void Coefficients(std::size_t t, StepCoefficients& c) const override {
    const std::size_t blocks = schedule_.blocks;
    c.t = t;
    ExpandStepCoefficients(blocks_, {schedule_.alpha.data() + t * blocks, blocks},
                           {{{schedule_.gamma.data() + t * blocks, blocks}, -1.0}}, c);
  }
  std::span<const double> MomentInputs(std::span<const double> g,
                                       std::span<double>) const override {
    return g;
  }
  std::span<const double> Direction(const StepCoefficients&, std::span<const double> v,
                                    std::span<double>) const override {
    return v;
  }

 private:
  Schedule schedule_;
  const ParameterBlocks& blocks_;  // the run's, which outlives this
};

}  // namespace

ReversibleSgd::ReversibleSgd(TrainingSetup setup, SgdOptions options)
    : ReversibleTraining(std::move(setup.model), std::move(setup.blocks),
                         std::move(setup.batches), std::move(options), "ReversibleSgd") {
  setup.schedule.Validate();
  const std::size_t schedule_blocks = setup.schedule.blocks;
  SetOptimizer(std::make_unique<SgdMomentum>(std::move(setup.schedule), blocks()),
               schedule_blocks);
}

Hypergradients ReversibleSgd::Reverse(std::span<const double> d_wT,
                                      std::span<const double> d_theta) {
  const Model& model = this->model();
  const std::size_t n = model.num_params(), hyper = model.num_hyper();
  const std::size_t iters = optimizer().iters(), blocks = this->blocks().num_blocks();
  BeginReverse(d_wT, d_theta);  // the arguments are right: this call consumes the trained state
  Hypergradients h;
  h.d_alpha.assign(iters * blocks, 0.0);
  h.d_gamma.assign(iters * blocks, 0.0);
  h.d_theta.assign(hyper, 0.0);
  if (!d_theta.empty()) h.d_theta.assign(d_theta.begin(), d_theta.end());
  std::vector<double> d_w(d_wT.begin(), d_wT.end()), d_v(n, 0.0);
  std::vector<double> g(n), hvp(n), u(n), mixed(hyper), products(n);
  StepCoefficients c;
  Trajectory& trajectory = this->trajectory();
  // The element-wise loops on a fixed split of the parameters (same bits on any thread count).
  const unsigned threads = options().threads;
  const std::vector<Chunk> pieces = ElementPieces(n, threads);
  const auto for_each = [&](auto&& body) {
    ParallelFor(pieces.size(), threads, [&](std::size_t j) {
      for (std::size_t k = pieces[j].begin; k < pieces[j].end; ++k) body(k);
    });
  };
  for (std::size_t t = iters; t-- > 0;) {
    optimizer().Coefficients(t, c);
    std::span<double> d_alpha_t{h.d_alpha.data() + t * blocks, blocks};
    std::span<double> d_gamma_t{h.d_gamma.data() + t * blocks, blocks};
    // dα_t = d_w · v_{t+1}, per block, before the position is reversed.
    const auto v_next = trajectory.moments();
    for_each([&](std::size_t k) { products[k] = d_w[k] * v_next[k]; });
    this->blocks().AccumulateSum(products, d_alpha_t);
    trajectory.UndoPosition(c);  // w_t
    for_each([&](std::size_t k) {
      d_v[k] += c.alpha[k] * d_w[k];
      u[k] = -c.increment[k] * d_v[k];  // (1−γ)·d_v
    });
    // g_t (bit-identical to the forward pass), H·u and the mixed product, in one pass.
    model.GradientAndHvp(trajectory.position(), BatchAt(t), u, g, hvp,
                         hyper > 0 ? std::span<double>(mixed) : std::span<double>());
    trajectory.UndoMoments(c, g);  // v_t
    const auto v_t = trajectory.moments();
    for_each([&](std::size_t k) { products[k] = d_v[k] * (v_t[k] + g[k]); });
    this->blocks().AccumulateSum(products, d_gamma_t);
    for_each([&](std::size_t k) {
      d_w[k] -= hvp[k];
      d_v[k] *= c.decay[k];
    });
    for (std::size_t i = 0; i < hyper; ++i) h.d_theta[i] -= mixed[i];
    if (options().on_reverse_step) options().on_reverse_step(iters - t);
  }
  h.d_w0 = std::move(d_w);
  h.d_v0 = std::move(d_v);
  h.reversal = trajectory.Check();
  return h;
}

}  // namespace hypergrad
