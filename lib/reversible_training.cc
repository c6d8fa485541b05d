#include "reversible_training.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <utility>
#include <vector>

#include "fixed_point.h"

namespace hypergrad {

ReversibleTraining::ReversibleTraining(std::shared_ptr<const Model> model, ParameterBlocks blocks,
                                       BatchSchedule batches, TrainingOptions options,
                                       std::string who)
    : model_(std::move(model)), blocks_(std::move(blocks)), batches_(std::move(batches)),
      options_(std::move(options)), who_(std::move(who)) {
  if (!model_) throw std::invalid_argument(who_ + ": no model");
  if (!batches_) throw std::invalid_argument(who_ + ": no batch schedule");
  blocks_.Validate();
  if (blocks_.num_params() != model_->num_params()) {
    throw std::invalid_argument(who_ + ": blocks cover " + std::to_string(blocks_.num_params()) +
                                " parameters, the model has " +
                                std::to_string(model_->num_params()));
  }
}

void ReversibleTraining::SetOptimizer(std::unique_ptr<ExactOptimizer> optimizer,
                                      std::size_t schedule_blocks) {
  if (schedule_blocks != blocks_.num_blocks()) {
    throw std::invalid_argument(who_ + ": schedule has " + std::to_string(schedule_blocks) +
                                " blocks, partition " + std::to_string(blocks_.num_blocks()));
  }
  optimizer_ = std::move(optimizer);
  const std::size_t iters = optimizer_->iters();
  const std::size_t sqrt_t =
      std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(std::sqrt(double(iters)))));
  const TrajectoryOptions trajectory_options{
      .buffer = options_.buffer,
      .checkpoint_interval =
          options_.checkpoint_interval > 0 ? options_.checkpoint_interval : sqrt_t,
      .revolve_snapshots = options_.revolve_snapshots,
      .steps = iters,
      .threads = options_.threads};
  trajectory_ =
      MakeTrajectory(options_.method, *optimizer_, model_->num_params(), trajectory_options);
  trajectory_->SetReplay([this](std::size_t t, std::span<const double> w, std::span<double> g,
                                StepCoefficients& c) {
    optimizer_->Coefficients(t, c);
    model_->Gradient(w, batches_(t), g);
  });
}

std::string ReversibleTraining::StateElementName(std::size_t k) const {
  const std::size_t n = model_->num_params();
  if (k < n) return "parameter " + model_->ParameterName(k);
  return MomentName((k - n) / n) + " of parameter " + model_->ParameterName((k - n) % n);
}

void ReversibleTraining::TrainFrom(std::span<const double> w0, std::span<const double> u0) {
  trained_ = false;  // a Train that fails leaves nothing to reverse
  const std::size_t n = model_->num_params(), moments = optimizer_->num_moments() * n;
  if (w0.size() != n || u0.size() != moments) {
    throw std::invalid_argument(who_ + "::Train: w0 needs " + std::to_string(n) +
                                " values and the moments " + std::to_string(moments) + ", got " +
                                std::to_string(w0.size()) + " and " + std::to_string(u0.size()));
  }
  try {
    trajectory_->Reset(w0, u0);
  } catch (const FixedPointOverflow& e) {
    throw e.WithContext("initial weights or moments out of range (" + StateElementName(e.index()) +
                        ")");
  }
  StepCoefficients c;
  std::vector<double> g(n);
  for (std::size_t t = 0; t < optimizer_->iters(); ++t) {
    optimizer_->Coefficients(t, c);
    const double loss = model_->Gradient(trajectory_->position(), batches_(t), g);
    if (options_.on_step) options_.on_step(t, trajectory_->position(), loss);
    try {
      trajectory_->StepForward(c, g);
    } catch (const FixedPointOverflow& e) {
      // A gradient that is not finite came from the model (e.g. a user's callback), not from
      // training leaving the range: name it as the cause.
      const std::size_t k = e.index() % n;
      if (!std::isfinite(g[k])) {
        std::ostringstream cause;
        cause << "iteration " << t << ": the model's gradient for parameter "
              << model_->ParameterName(k) << " is " << g[k]
              << " (returned by the model, not a divergence of training), so "
              << StateElementName(e.index()) << " cannot be updated";
        throw FixedPointOverflow(e.index(), e.value(), e.limit()).WithContext(cause.str());
      }
      throw e.WithContext("training diverged at iteration " + std::to_string(t) + ", " +
                          StateElementName(e.index()));
    }
  }
  extra_bytes_ = trajectory_->ExtraBytes();
  information_bits_ = trajectory_->InformationBits();
  trained_ = true;
}

void ReversibleTraining::BeginReverse(std::span<const double> d_wT,
                                      std::span<const double> d_theta) {
  const std::size_t n = model_->num_params(), hyper = model_->num_hyper();
  if (d_wT.size() != n) {
    throw std::invalid_argument(who_ + "::Reverse: d_w has " + std::to_string(d_wT.size()) +
                                " values, the model " + std::to_string(n) + " parameters");
  }
  if (!d_theta.empty() && d_theta.size() != hyper) {
    throw std::invalid_argument(who_ + "::Reverse: d_theta has " + std::to_string(d_theta.size()) +
                                " values, the model " + std::to_string(hyper) + " hyperparameters");
  }
  if (!trained_) throw std::logic_error(who_ + "::Reverse: call Train first (once per Reverse)");
  trained_ = false;
}

void ExpandStepCoefficients(const ParameterBlocks& blocks, std::span<const double> alpha,
                            std::initializer_list<MomentDecays> moments, StepCoefficients& c) {
  // Same values as the step before (compared in place: no allocation per step)? Then c holds
  // their expansion already.
  std::size_t size = alpha.size(), at = alpha.size();
  for (const MomentDecays& m : moments) size += m.decay.size();
  bool same = c.block_values.size() == size &&
              std::equal(alpha.begin(), alpha.end(), c.block_values.begin());
  for (const MomentDecays& m : moments) {
    if (!same) break;
    same = std::equal(m.decay.begin(), m.decay.end(), c.block_values.begin() + static_cast<std::ptrdiff_t>(at));
    at += m.decay.size();
  }
  if (same) return;
  c.block_values.assign(alpha.begin(), alpha.end());
  for (const MomentDecays& m : moments) {
    c.block_values.insert(c.block_values.end(), m.decay.begin(), m.decay.end());
  }
  const std::size_t n = blocks.num_params(), count = moments.size();
  c.alpha.resize(n);
  c.decay.resize(count * n);
  c.increment.resize(count * n);
  c.ratios.resize(count * n);
  blocks.Expand(alpha, c.alpha);
  std::size_t i = 0;
  for (const MomentDecays& m : moments) {
    std::vector<double> increment(m.decay.size());
    std::vector<MomentumRatio> ratios(m.decay.size());
    for (std::size_t j = 0; j < m.decay.size(); ++j) {
      increment[j] = m.increment_sign * (1.0 - m.decay[j]);
      ratios[j] = MomentumToRatio(m.decay[j]);
    }
    blocks.Expand(m.decay, std::span(c.decay).subspan(i * n, n));
    blocks.Expand(increment, std::span(c.increment).subspan(i * n, n));
    for (std::size_t k = 0; k < n; ++k) c.ratios[i * n + k] = ratios[blocks.block_of[k]];
    ++i;
  }
}

}  // namespace hypergrad
