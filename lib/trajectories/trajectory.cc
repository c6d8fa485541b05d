#include "trajectories/trajectory.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "trajectories/checkpointing.h"
#include "reversible/algorithm3.h"
#include "trajectories/fixed_point_trajectory.h"

namespace hypergrad {
namespace {

// The moments u0 quantised in `format`; an overflow names element P + i of the state (w, u).
MomentVector MomentsFromDoubles(std::span<const double> u0, std::size_t num_params,
                                FixedPointFormat format) {
  try {
    return MomentVector::FromDoubles(u0, format);
  } catch (const FixedPointOverflow& e) {
    throw FixedPointOverflow(num_params + e.index(), e.value(), e.limit());
  }
}

// The one format of all the optimizer's moments (exact_optimizer.h).
FixedPointFormat MomentFormatOf(const ExactOptimizer& optimizer) {
  const FixedPointFormat format = optimizer.MomentFormat(0);
  format.Validate();
  for (std::size_t i = 1; i < optimizer.num_moments(); ++i) {
    if (!(optimizer.MomentFormat(i) == format)) {
      throw std::invalid_argument("trajectory: the moments of optimizer '" +
                                  std::string(optimizer.name()) +
                                  "' declare different fixed-point formats; all must share one");
    }
  }
  return format;
}

// Reset's arguments: P weights and K·P moment values.
void CheckStateSizes(std::span<const double> w0, std::span<const double> u0, std::size_t params,
                     std::size_t moment_values) {
  if (w0.size() != params || u0.size() != moment_values) {
    throw std::invalid_argument("trajectory: " + std::to_string(w0.size()) + " weights and " +
                                std::to_string(u0.size()) + " moment values given, expected " +
                                std::to_string(params) + " and " + std::to_string(moment_values));
  }
}

}  // namespace

double MaxAbsDifference(std::span<const double> a, std::span<const double> b) {
  double m = 0.0;
  for (std::size_t k = 0; k < a.size(); ++k) {
    const double d = std::fabs(a[k] - b[k]);
    if (std::isnan(d)) return d;
    m = std::max(m, d);
  }
  return m;
}

FixedPointState FixedPointState::Copy() const {
  return {t, w, u, buffer ? buffer->Clone() : nullptr};
}

std::size_t FixedPointState::Bytes() const {
  return w.size() * sizeof(std::int64_t) + u.Bytes() + (buffer ? buffer->AllocatedBytes() : 0);
}

FixedPointTrajectory::FixedPointTrajectory(const ExactOptimizer& optimizer, BufferKind kind,
                                           std::size_t n)
    : optimizer_(optimizer), kind_(kind), moment_format_(MomentFormatOf(optimizer)),
      w_values_(n), u_values_(optimizer.num_moments() * n),
      inputs_(u_values_.size()), direction_(n) {
  if (optimizer.MomentStages() != 1 && optimizer.MomentStages() != optimizer.num_moments()) {
    throw std::invalid_argument("trajectory: an optimizer's moment inputs come in 1 or K stages");
  }
  if (optimizer.MomentStages() > 1) {
    applied_.assign(u_values_.size(), 0.0);
    stage_.assign(u_values_.size(), 0.0);
  }
}

void FixedPointTrajectory::Reset(std::span<const double> w0, std::span<const double> u0) {
  CheckStateSizes(w0, u0, w_values_.size(), u_values_.size());
  w_ = FixedPointVector::FromDoubles(w0);
  u_ = MomentsFromDoubles(u0, w0.size(), moment_format_);
  w_.CopyValuesTo(w_values_);
  u_.CopyValuesTo(u_values_);
  w0_ = w_;
  u0_ = u_;
  buffer_ = MakeInfoBuffer(kind_, u_.size());
}

std::span<const double> FixedPointTrajectory::Direction(const StepCoefficients& c,
                                                        std::span<const double> u_values) {
  return optimizer_.Direction(c, u_values, direction_);
}

std::span<const double> FixedPointTrajectory::AddMomentInputs(MomentVector& u,
                                                              std::vector<double>& u_values,
                                                              const StepCoefficients& c,
                                                              std::span<const double> g) {
  const std::size_t stages = optimizer_.MomentStages();
  if (stages == 1) {
    const std::span<const double> inputs = optimizer_.MomentInputs(0, g, u_values, inputs_);
    u.AddScaled(c.increment, inputs, threads_);
    return inputs;
  }
  // Moment i's input may read the new moments j < i: one moment at a time, each added alone
  // (stage_ is zero outside moment i), the inputs applied so far kept in applied_.
  const std::size_t n = w_values_.size();
  std::fill(applied_.begin(), applied_.end(), 0.0);
  for (std::size_t i = 0; i < stages; ++i) {
    if (i > 0) u.CopyValuesTo(u_values, threads_);
    const std::span<const double> inputs = optimizer_.MomentInputs(i, g, u_values, inputs_);
    const auto begin = static_cast<std::ptrdiff_t>(i * n), end = static_cast<std::ptrdiff_t>((i + 1) * n);
    std::copy(inputs.begin() + begin, inputs.begin() + end, stage_.begin() + begin);
    try {
      u.AddScaled(c.increment, stage_, threads_);
    } catch (const FixedPointOverflow&) {
      std::fill(stage_.begin() + begin, stage_.begin() + end, 0.0);
      u.SubScaled(c.increment, applied_, threads_);  // the moments before i, as they were
      throw;
    }
    std::copy(stage_.begin() + begin, stage_.begin() + end, applied_.begin() + begin);
    std::fill(stage_.begin() + begin, stage_.begin() + end, 0.0);
  }
  return applied_;
}

void FixedPointTrajectory::SubtractMomentInputs(const StepCoefficients& c,
                                                std::span<const double> g) {
  const std::size_t stages = optimizer_.MomentStages();
  if (stages == 1) {
    u_.SubScaled(c.increment, optimizer_.MomentInputs(0, g, u_values_, inputs_), threads_);
    return;
  }
  // The last moment first: moment i's input reads the moments j < i, still at their new values.
  const std::size_t n = w_values_.size();
  for (std::size_t i = stages; i-- > 0;) {
    const std::span<const double> inputs = optimizer_.MomentInputs(i, g, u_values_, inputs_);
    const auto begin = static_cast<std::ptrdiff_t>(i * n), end = static_cast<std::ptrdiff_t>((i + 1) * n);
    std::copy(inputs.begin() + begin, inputs.begin() + end, stage_.begin() + begin);
    u_.SubScaled(c.increment, stage_, threads_);
    std::fill(stage_.begin() + begin, stage_.begin() + end, 0.0);
    if (i > 0) u_.CopyValuesTo(u_values_, threads_);
  }
}

void FixedPointTrajectory::Step(FixedPointVector& w, MomentVector& u, InfoBuffer& buffer,
                                std::vector<double>& u_values, const StepCoefficients& c,
                                std::span<const double> g) {
  // Overflows of the moments are reported after the P elements of w.
  const auto moment_overflow = [&](const FixedPointOverflow& e) {
    return FixedPointOverflow(w.size() + e.index(), e.value(), e.limit());
  };
  try {
    MultiplyByRatio(u, c.ratios, buffer, threads_);
  } catch (const FixedPointOverflow& e) {
    throw moment_overflow(e);
  }
  std::span<const double> inputs;
  try {
    inputs = AddMomentInputs(u, u_values, c, g);
  } catch (const FixedPointOverflow& e) {
    DivideByRatio(u, c.ratios, buffer, threads_);  // leave the state as it was
    if (optimizer_.MomentStages() > 1) u.CopyValuesTo(u_values);
    throw moment_overflow(e);
  }
  u.CopyValuesTo(u_values, threads_);
  try {
    w.AddScaled(c.alpha, Direction(c, u_values), threads_);
  } catch (const FixedPointOverflow&) {
    u.SubScaled(c.increment, inputs);
    DivideByRatio(u, c.ratios, buffer, threads_);
    u.CopyValuesTo(u_values);  // the old u's doubles again
    throw;
  }
}

void FixedPointTrajectory::StepForward(const StepCoefficients& c, std::span<const double> g) {
  Step(w_, u_, *buffer_, u_values_, c, g);
  w_.CopyValuesTo(w_values_, threads_);
}

void FixedPointTrajectory::UndoPosition(const StepCoefficients& c) {
  w_.SubScaled(c.alpha, Direction(c, u_values_), threads_);
  w_.CopyValuesTo(w_values_, threads_);
}

void FixedPointTrajectory::UndoMoments(const StepCoefficients& c, std::span<const double> g) {
  SubtractMomentInputs(c, g);
  DivideByRatio(u_, c.ratios, *buffer_, threads_);
  u_.CopyValuesTo(u_values_, threads_);
}

ReversalCheck FixedPointTrajectory::Check() const {
  ReversalCheck check;
  check.buffer_empty = buffer_->Empty();
  check.exact = w_ == w0_ && u_ == u0_ && check.buffer_empty;
  check.max_w0_error = MaxAbsDifference(w_values_, w0_.Values());
  check.max_u0_error = MaxAbsDifference(u_values_, u0_.Values());
  return check;
}

FixedPointState FixedPointTrajectory::Snapshot(std::size_t t) const {
  return {t, w_, u_, buffer_->Clone()};
}

void RecomputingTrajectory::Reset(std::span<const double> w0, std::span<const double> u0) {
  FixedPointTrajectory::Reset(w0, u0);
  recomputed_ = peak_bytes_ = 0;
  g_.resize(w_.size());
  w_scratch_.resize(w_.size());
  u_scratch_.resize(u_.size());
}

void RecomputingTrajectory::Recompute(FixedPointState& state) {
  if (!replay_) throw std::logic_error("checkpointing trajectory: no replay function set");
  if (!state.buffer) throw std::logic_error("checkpointing trajectory: state has no buffer");
  state.w.CopyValuesTo(w_scratch_);
  state.u.CopyValuesTo(u_scratch_);
  replay_(state.t, w_scratch_, g_, coefficients_);
  Step(state.w, state.u, *state.buffer, u_scratch_, coefficients_, g_);
  ++state.t;
  ++recomputed_;
}

ReversalCheck RecomputingTrajectory::Check() const {
  ReversalCheck check = FixedPointTrajectory::Check();
  check.buffer_empty = true;  // the forward buffer is not unwound: snapshots hold copies
  check.exact = w_ == w0_ && u_ == u0_;
  return check;
}

namespace {

// The optimizer in plain float64; reversed by dividing by the decays, with no buffer.
class NaiveFloatTrajectory final : public Trajectory {
 public:
  NaiveFloatTrajectory(const ExactOptimizer& optimizer, std::size_t n)
      : optimizer_(optimizer), moment_format_(MomentFormatOf(optimizer)), w_(n), u_(optimizer.num_moments() * n), inputs_(u_.size()),
        direction_(n) {}

  void Reset(std::span<const double> w0, std::span<const double> u0) override {
    CheckStateSizes(w0, u0, w_.size(), u_.size());  // before w_ takes w0's size
    // Start from the quantised values, like the fixed-point strategies.
    w_ = FixedPointVector::FromDoubles(w0).Values();
    u_ = MomentsFromDoubles(u0, w0.size(), moment_format_).Values();
    w0_ = w_;
    u0_ = u_;
  }
  std::span<const double> position() const override { return w_; }
  std::span<const double> moments() const override { return u_; }

  void StepForward(const StepCoefficients& c, std::span<const double> g) override {
    const std::size_t stages = optimizer_.MomentStages(), size = u_.size() / stages;
    for (std::size_t i = 0; i < stages; ++i) {
      const std::span<const double> x = optimizer_.MomentInputs(i, g, u_, inputs_);
      for (std::size_t k = i * size; k < (i + 1) * size; ++k) {
        u_[k] = c.decay[k] * u_[k] + c.increment[k] * x[k];
      }
    }
    const std::span<const double> d = optimizer_.Direction(c, u_, direction_);
    for (std::size_t k = 0; k < w_.size(); ++k) w_[k] += c.alpha[k] * d[k];
  }
  void UndoPosition(const StepCoefficients& c) override {
    const std::span<const double> d = optimizer_.Direction(c, u_, direction_);
    for (std::size_t k = 0; k < w_.size(); ++k) w_[k] -= c.alpha[k] * d[k];
  }
  void UndoMoments(const StepCoefficients& c, std::span<const double> g) override {
    const std::size_t stages = optimizer_.MomentStages(), size = u_.size() / stages;
    for (std::size_t i = stages; i-- > 0;) {
      const std::span<const double> x = optimizer_.MomentInputs(i, g, u_, inputs_);
      for (std::size_t k = i * size; k < (i + 1) * size; ++k) {
        u_[k] = (u_[k] - c.increment[k] * x[k]) / c.decay[k];
      }
    }
  }
  ReversalCheck Check() const override {
    ReversalCheck check;
    check.exact = w_ == w0_ && u_ == u0_;
    check.max_w0_error = MaxAbsDifference(w_, w0_);
    check.max_u0_error = MaxAbsDifference(u_, u0_);
    return check;
  }
  std::size_t ExtraBytes() const override { return 0; }

 private:
  const ExactOptimizer& optimizer_;
  FixedPointFormat moment_format_;
  std::vector<double> w_, u_, w0_, u0_, inputs_, direction_;
};

}  // namespace

ReversalMethod ParseReversalMethod(std::string_view name) {
  if (name == "reversible") return ReversalMethod::kReversible;
  if (name == "stored") return ReversalMethod::kStoredTrajectory;
  if (name == "naive-float") return ReversalMethod::kNaiveFloat;
  if (name == "checkpointed") return ReversalMethod::kCheckpointed;
  if (name == "revolve") return ReversalMethod::kRevolve;
  throw std::invalid_argument("unknown reversal method '" + std::string(name) +
                              "' (expected reversible, stored, naive-float, checkpointed or "
                              "revolve)");
}

std::string_view ReversalMethodName(ReversalMethod method) {
  switch (method) {
    case ReversalMethod::kReversible: return "reversible";
    case ReversalMethod::kStoredTrajectory: return "stored";
    case ReversalMethod::kNaiveFloat: return "naive-float";
    case ReversalMethod::kCheckpointed: return "checkpointed";
    case ReversalMethod::kRevolve: return "revolve";
  }
  return "?";
}

namespace {

std::unique_ptr<Trajectory> MakeStrategy(ReversalMethod method, const ExactOptimizer& optimizer,
                                         std::size_t num_params, const TrajectoryOptions& options) {
  switch (method) {
    case ReversalMethod::kReversible:
      return std::make_unique<FixedPointTrajectory>(optimizer, options.buffer, num_params);
    case ReversalMethod::kStoredTrajectory:
      return MakeStoredTrajectory(optimizer, options.buffer, num_params);
    case ReversalMethod::kNaiveFloat:
      return std::make_unique<NaiveFloatTrajectory>(optimizer, num_params);
    case ReversalMethod::kCheckpointed:
      return MakeSqrtCheckpointedTrajectory(optimizer, options.buffer, num_params,
                                            options.checkpoint_interval);
    case ReversalMethod::kRevolve:
      return MakeRevolveTrajectory(optimizer, options.buffer, num_params,
                                   PlanRevolve(options.steps, options.revolve_snapshots));
  }
  throw std::invalid_argument("MakeTrajectory: unknown method");
}

}  // namespace

std::unique_ptr<Trajectory> MakeTrajectory(ReversalMethod method, const ExactOptimizer& optimizer,
                                           std::size_t num_params,
                                           const TrajectoryOptions& options) {
  if (options.threads == 0) throw std::invalid_argument("MakeTrajectory: threads must be at least 1");
  std::unique_ptr<Trajectory> trajectory = MakeStrategy(method, optimizer, num_params, options);
  trajectory->SetThreads(options.threads);
  return trajectory;
}

}  // namespace hypergrad
