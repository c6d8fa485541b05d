#include "optimizers/reversible_training.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <utility>
#include <vector>

#include "arithmetic/fixed_point.h"
#include "runtime/parallel.h"

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

void ReversibleTraining::RequireNonNegativeMoment(std::span<const double> u0,
                                                  std::size_t i) const {
  const std::size_t n = model_->num_params();
  for (std::size_t k = 0; k < n; ++k) {
    if (!(u0[i * n + k] >= 0.0)) {
      throw std::invalid_argument(who_ + "::Train: " + optimizer_->MomentName(i) +
                                  "0 of parameter " + model_->ParameterName(k) + " = " +
                                  std::to_string(u0[i * n + k]) + " is not ≥ 0");
    }
  }
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
  CheckInitialMoments(u0);
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
              << " at finite weights: a non-finite value from the model itself (a callback's NaN, or"
                 " the model's own arithmetic overflowing because training diverged), so "
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

Hypergradients ReversibleTraining::Reverse(std::span<const double> d_wT,
                                           std::span<const double> d_theta,
                                           ReverseOptions reverse) {
  const Model& model = *model_;
  const ExactOptimizer& optimizer = *optimizer_;
  const std::size_t n = model.num_params(), hyper = model.num_hyper();
  const std::size_t iters = optimizer.iters(), blocks = blocks_.num_blocks();
  const std::size_t moments = optimizer.num_moments();
  if (reverse.first_step > iters) {
    throw std::invalid_argument(who_ + "::Reverse: first step " +
                                std::to_string(reverse.first_step) + " is beyond the " +
                                std::to_string(iters) + " steps");
  }
  BeginReverse(d_wT, d_theta);  // the arguments are right: this call consumes the trained state
  const std::vector<std::string> schedule_names = optimizer.ScheduleNames();
  const std::vector<std::string> scalar_names = optimizer.ScalarNames();
  Adjoints a;
  a.d_w.assign(d_wT.begin(), d_wT.end());
  a.d_u.assign(moments * n, 0.0);
  a.d_alpha.assign(iters * blocks, 0.0);
  a.d_schedules.assign(schedule_names.size(), std::vector<double>(iters * blocks, 0.0));
  a.d_scalars.assign(scalar_names.size(), 0.0);
  a.d_theta.assign(hyper, 0.0);
  if (!d_theta.empty()) a.d_theta.assign(d_theta.begin(), d_theta.end());
  std::vector<double> g(n), g_bar(n), hvp(n), mixed(hyper);
  const std::span<const double> no_gradient;
  StepCoefficients c;
  Trajectory& trajectory = *trajectory_;
  // The element-wise loops on a fixed split of the parameters (same bits on any thread count).
  const ElementLoop loop(n, options_.threads);
  const std::unique_ptr<AdjointStep> step = optimizer.NewAdjointStep(blocks_, loop);
  const bool needs_gradient = optimizer.AdjointNeedsGradient();
  for (std::size_t t = iters; t-- > reverse.first_step;) {
    optimizer.Coefficients(t, c);
    step->Position(c, trajectory.moments(), a);  // u_{t+1}
    trajectory.UndoPosition(c);                  // w_t
    const Batch batch = batches_(t);
    if (needs_gradient) model.Gradient(trajectory.position(), batch, g);
    step->GradientAdjoint(c, trajectory.moments(), needs_gradient ? std::span<const double>(g) : no_gradient,
                          a, g_bar);
    // g_t (bit-identical to the forward pass), H·ḡ and the mixed product, in one pass.
    model.GradientAndHvp(trajectory.position(), batch, g_bar, g, hvp,
                         hyper > 0 ? std::span<double>(mixed) : std::span<double>());
    trajectory.UndoMoments(c, g);  // u_t
    step->Moments(c, trajectory.moments(), g, hvp, hyper > 0 ? std::span<const double>(mixed) : no_gradient, a);
    if (options_.on_reverse_step) options_.on_reverse_step(iters - t);
  }
  Hypergradients h;
  h.first_step = reverse.first_step;
  const bool full = reverse.first_step == 0;
  h.d_w0 = full ? std::move(a.d_w) : std::vector<double>(n, 0.0);
  for (std::size_t i = 0; i < moments; ++i) {
    std::vector<double> d_u0(n, 0.0);
    if (full) std::copy_n(a.d_u.begin() + static_cast<std::ptrdiff_t>(i * n), n, d_u0.begin());
    h.d_u0.push_back({optimizer.MomentName(i), std::move(d_u0)});
  }
  h.d_alpha = std::move(a.d_alpha);
  for (std::size_t i = 0; i < schedule_names.size(); ++i) {
    h.d_schedules.push_back({schedule_names[i], std::move(a.d_schedules[i])});
  }
  for (std::size_t i = 0; i < scalar_names.size(); ++i) {
    h.d_scalars.push_back({scalar_names[i], {a.d_scalars[i]}});
  }
  h.d_theta = std::move(a.d_theta);
  if (full) h.reversal = trajectory.Check();
  return h;
}

namespace {

const std::vector<double>& Find(const std::vector<NamedValues>& entries, std::string_view name,
                                const char* kind) {
  for (const NamedValues& e : entries) {
    if (e.name == name) return e.values;
  }
  throw std::out_of_range("Hypergradients: no " + std::string(kind) + " named '" +
                          std::string(name) + "'");
}

}  // namespace

const std::vector<double>& Hypergradients::moment(std::string_view name) const {
  return Find(d_u0, name, "moment");
}

const std::vector<double>& Hypergradients::schedule(std::string_view name) const {
  if (name == "alpha") return d_alpha;
  return Find(d_schedules, name, "schedule");
}

double Hypergradients::scalar(std::string_view name) const {
  return Find(d_scalars, name, "scalar hyperparameter").at(0);
}

bool BitwiseEqual(const Hypergradients& a, const Hypergradients& b) {
  const auto same = [](const std::vector<NamedValues>& x, const std::vector<NamedValues>& y) {
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (x[i].name != y[i].name || x[i].values != y[i].values) return false;
    }
    return true;
  };
  return a.d_w0 == b.d_w0 && a.d_alpha == b.d_alpha && a.d_theta == b.d_theta &&
         same(a.d_u0, b.d_u0) && same(a.d_schedules, b.d_schedules) &&
         same(a.d_scalars, b.d_scalars);
}

RunOutcome TrainAndReverse(ReversibleTraining& run, std::span<const double> w0,
                           std::span<const double> u0, const Objective& objective,
                           const RunHooks& hooks) {
  const auto seconds_since = [](std::chrono::steady_clock::time_point since) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
  };
  RunOutcome r;
  auto begin = std::chrono::steady_clock::now();
  run.Train(w0, u0);
  r.seconds_forward = seconds_since(begin);
  if (hooks.copy_state) {
    r.w_T.assign(run.weights().begin(), run.weights().end());
    r.u_T.assign(run.moments().begin(), run.moments().end());
  }
  std::vector<double> d_w(run.weights().size()), d_theta(run.model().num_hyper(), 0.0);
  r.f = objective.f(run.weights(), d_w, d_theta);
  r.information_bits = run.information_bits_after_train();
  r.extra_bytes = run.extra_bytes_after_train();
  if (hooks.after_train) hooks.after_train();
  begin = std::chrono::steady_clock::now();
  r.hypergradients = run.Reverse(d_w, d_theta, hooks.reverse);
  r.seconds_reverse = seconds_since(begin);
  if (hooks.after_reverse) hooks.after_reverse();
  return r;
}

void ValidateSchedules(std::string_view who, std::size_t iters, std::size_t blocks,
                       const std::vector<double>& alpha, std::initializer_list<NamedSchedule> decays,
                       double decay_limit) {
  const std::size_t n = iters * blocks;
  std::string names = "alpha";
  bool sizes_match = alpha.size() == n;
  for (std::size_t i = 0; i < decays.size(); ++i) {
    const NamedSchedule& d = decays.begin()[i];
    names += std::string(i + 1 == decays.size() ? " and " : ", ") + std::string(d.name);
    sizes_match = sizes_match && d.values.size() == n;
  }
  if (!sizes_match) {
    throw std::invalid_argument(std::string(who) + ": " + std::to_string(iters) +
                                " iterations × " + std::to_string(blocks) + " blocks need " +
                                std::to_string(n) + " values of " + names);
  }
  std::ostringstream limit;
  limit << decay_limit;
  for (std::size_t i = 0; i < n; ++i) {
    const std::string where =
        " at iteration " + std::to_string(i / blocks) + ", block " + std::to_string(i % blocks);
    if (!std::isfinite(alpha[i])) {
      throw std::invalid_argument(std::string(who) + ": alpha" + where + " is not finite");
    }
    for (const NamedSchedule& d : decays) {
      const double decay = d.values[i];
      if (!(decay > 0.0 && decay < decay_limit)) {
        throw std::invalid_argument(std::string(who) + ": " + std::string(d.name) + where +
                                    " = " + std::to_string(decay) + " is not in (0, " +
                                    limit.str() + ")");
      }
    }
  }
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
    std::vector<DecayRatio> ratios(m.decay.size());
    for (std::size_t j = 0; j < m.decay.size(); ++j) {
      increment[j] = m.increment_sign * (1.0 - m.decay[j]);
      ratios[j] = DecayToRatio(m.decay[j]);
    }
    blocks.Expand(m.decay, std::span(c.decay).subspan(i * n, n));
    blocks.Expand(increment, std::span(c.increment).subspan(i * n, n));
    for (std::size_t k = 0; k < n; ++k) c.ratios[i * n + k] = ratios[blocks.block_of[k]];
    ++i;
  }
}

}  // namespace hypergrad
