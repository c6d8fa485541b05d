#include "reversible_sgd.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "fixed_point.h"
#include "numpy_random.h"
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

ReversibleSgd::ReversibleSgd(TrainingSetup setup, SgdOptions options)
    : setup_(std::move(setup)), options_(std::move(options)) {
  if (!setup_.model) throw std::invalid_argument("ReversibleSgd: no model");
  if (!setup_.batches) throw std::invalid_argument("ReversibleSgd: no batch schedule");
  setup_.blocks.Validate();
  if (setup_.blocks.num_params() != setup_.model->num_params()) {
    throw std::invalid_argument("ReversibleSgd: blocks cover " +
                                std::to_string(setup_.blocks.num_params()) +
                                " parameters, the model has " +
                                std::to_string(setup_.model->num_params()));
  }
  setup_.schedule.Validate();
  if (setup_.schedule.blocks != setup_.blocks.num_blocks()) {
    throw std::invalid_argument("ReversibleSgd: schedule has " +
                                std::to_string(setup_.schedule.blocks) + " blocks, partition " +
                                std::to_string(setup_.blocks.num_blocks()));
  }
  const auto iters = static_cast<double>(setup_.schedule.iters);
  TrajectoryOptions trajectory_options{
      .buffer = options_.buffer,
      .checkpoint_interval = options_.checkpoint_interval > 0
                                 ? options_.checkpoint_interval
                                 : std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(std::sqrt(iters)))),
      .revolve_snapshots = options_.revolve_snapshots,
      .steps = setup_.schedule.iters};
  trajectory_ = MakeTrajectory(options_.method, setup_.model->num_params(), trajectory_options);
  trajectory_->SetReplay([this](std::size_t t, std::span<const double> w, std::span<double> g,
                                StepCoefficients& c) {
    Coefficients(t, c);
    setup_.model->Gradient(w, setup_.batches(t), g);
  });
}

void ReversibleSgd::Coefficients(std::size_t t, StepCoefficients& c) const {
  const Schedule& s = setup_.schedule;
  const std::size_t blocks = s.blocks;
  c.t = t;
  const std::span<const double> alpha_t{s.alpha.data() + t * blocks, blocks};
  const std::span<const double> gamma_t{s.gamma.data() + t * blocks, blocks};
  if (std::equal(alpha_t.begin(), alpha_t.end(), c.block_alpha.begin(), c.block_alpha.end()) &&
      std::equal(gamma_t.begin(), gamma_t.end(), c.block_gamma.begin(), c.block_gamma.end())) {
    return;  // same values as the step before: the expansion is already there
  }
  c.block_alpha.assign(alpha_t.begin(), alpha_t.end());
  c.block_gamma.assign(gamma_t.begin(), gamma_t.end());
  std::vector<double> one_minus(blocks);
  std::vector<MomentumRatio> block_ratios(blocks);
  for (std::size_t j = 0; j < blocks; ++j) {
    one_minus[j] = 1.0 - s.Gamma(t, j);
    block_ratios[j] = MomentumToRatio(s.Gamma(t, j));
  }
  const std::size_t n = setup_.blocks.num_params();
  c.alpha.resize(n);
  c.gamma.resize(n);
  c.one_minus_gamma.resize(n);
  c.ratios.resize(n);
  setup_.blocks.Expand(alpha_t, c.alpha);
  setup_.blocks.Expand(gamma_t, c.gamma);
  setup_.blocks.Expand(one_minus, c.one_minus_gamma);
  for (std::size_t k = 0; k < n; ++k) c.ratios[k] = block_ratios[setup_.blocks.block_of[k]];
}

void ReversibleSgd::Train(std::span<const double> w0, std::span<const double> v0) {
  trained_ = false;  // a Train that fails leaves nothing to reverse
  const Model& model = *setup_.model;
  const std::size_t n = model.num_params();
  if (w0.size() != n || v0.size() != n) {
    throw std::invalid_argument("ReversibleSgd::Train: w0 and v0 need " + std::to_string(n) +
                                " values, got " + std::to_string(w0.size()) + " and " +
                                std::to_string(v0.size()));
  }
  try {
    trajectory_->Reset(w0, v0);
  } catch (const FixedPointOverflow& e) {
    throw e.WithContext("initial weights or velocity out of range (parameter " +
                        model.ParameterName(e.index()) + ")");
  }
  StepCoefficients c;
  std::vector<double> g(n);
  for (std::size_t t = 0; t < setup_.schedule.iters; ++t) {
    Coefficients(t, c);
    const double loss = model.Gradient(trajectory_->position(), setup_.batches(t), g);
    if (options_.on_step) options_.on_step(t, trajectory_->position(), loss);
    try {
      trajectory_->StepForward(c, g);
    } catch (const FixedPointOverflow& e) {
      throw e.WithContext("training diverged at iteration " + std::to_string(t) +
                          ", parameter " + model.ParameterName(e.index()));
    }
  }
  extra_bytes_ = trajectory_->ExtraBytes();
  information_bits_ = trajectory_->InformationBits();
  trained_ = true;
}

Hypergradients ReversibleSgd::Reverse(std::span<const double> d_wT,
                                      std::span<const double> d_theta) {
  if (!trained_) throw std::logic_error("ReversibleSgd::Reverse: call Train first (once per Reverse)");
  const Model& model = *setup_.model;
  const std::size_t n = model.num_params(), hyper = model.num_hyper();
  const std::size_t iters = setup_.schedule.iters, blocks = setup_.schedule.blocks;
  if (d_wT.size() != n) {
    throw std::invalid_argument("ReversibleSgd::Reverse: d_w has " + std::to_string(d_wT.size()) +
                                " values, the model " + std::to_string(n) + " parameters");
  }
  if (!d_theta.empty() && d_theta.size() != hyper) {
    throw std::invalid_argument("ReversibleSgd::Reverse: d_theta has " +
                                std::to_string(d_theta.size()) + " values, the model " +
                                std::to_string(hyper) + " hyperparameters");
  }
  trained_ = false;  // the arguments are right: this call consumes the trained state
  Hypergradients h;
  h.d_alpha.assign(iters * blocks, 0.0);
  h.d_gamma.assign(iters * blocks, 0.0);
  h.d_theta.assign(hyper, 0.0);
  if (!d_theta.empty()) h.d_theta.assign(d_theta.begin(), d_theta.end());
  std::vector<double> d_w(d_wT.begin(), d_wT.end()), d_v(n, 0.0);
  std::vector<double> g(n), hvp(n), u(n), mixed(hyper), products(n);
  StepCoefficients c;

  for (std::size_t t = iters; t-- > 0;) {
    Coefficients(t, c);
    std::span<double> d_alpha_t{h.d_alpha.data() + t * blocks, blocks};
    std::span<double> d_gamma_t{h.d_gamma.data() + t * blocks, blocks};
    // dα_t = d_w · v_{t+1}, per block, before the position is reversed.
    const auto v_next = trajectory_->velocity();
    for (std::size_t k = 0; k < n; ++k) products[k] = d_w[k] * v_next[k];
    setup_.blocks.AccumulateSum(products, d_alpha_t);
    trajectory_->UndoPosition(c);  // w_t
    for (std::size_t k = 0; k < n; ++k) {
      d_v[k] += c.alpha[k] * d_w[k];
      u[k] = c.one_minus_gamma[k] * d_v[k];
    }
    // g_t (bit-identical to the forward pass), H·u and the mixed product, in one pass.
    model.GradientAndHvp(trajectory_->position(), setup_.batches(t), u, g, hvp,
                         hyper > 0 ? std::span<double>(mixed) : std::span<double>());
    trajectory_->UndoVelocity(c, g);  // v_t
    const auto v_t = trajectory_->velocity();
    for (std::size_t k = 0; k < n; ++k) products[k] = d_v[k] * (v_t[k] + g[k]);
    setup_.blocks.AccumulateSum(products, d_gamma_t);
    for (std::size_t k = 0; k < n; ++k) {
      d_w[k] -= hvp[k];
      d_v[k] *= c.gamma[k];
    }
    for (std::size_t i = 0; i < hyper; ++i) h.d_theta[i] -= mixed[i];
    if (options_.on_reverse_step) options_.on_reverse_step(iters - t);
  }
  h.d_w0 = std::move(d_w);
  h.d_v0 = std::move(d_v);
  h.reversal = trajectory_->Check();
  return h;
}

}  // namespace hypergrad
