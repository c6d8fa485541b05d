#include "trajectory.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "checkpointing.h"
#include "exact_momentum.h"
#include "fixed_point_trajectory.h"

namespace hypergrad {

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
  return {t, w, v, buffer ? buffer->Clone() : nullptr};
}

std::size_t FixedPointState::Bytes() const {
  return (w.size() + v.size()) * sizeof(std::int64_t) + (buffer ? buffer->AllocatedBytes() : 0);
}

FixedPointTrajectory::FixedPointTrajectory(BufferKind kind, std::size_t n)
    : kind_(kind), w_values_(n), v_values_(n) {}

void FixedPointTrajectory::Reset(std::span<const double> w0, std::span<const double> v0) {
  w_ = FixedPointVector::FromDoubles(w0);
  v_ = FixedPointVector::FromDoubles(v0);
  w_.CopyValuesTo(w_values_);
  v_.CopyValuesTo(v_values_);
  w0_ = w_;
  v0_ = v_;
  buffer_ = MakeInfoBuffer(kind_, w_.size());
}

void FixedPointTrajectory::Step(FixedPointVector& w, FixedPointVector& v, InfoBuffer& buffer,
                                std::vector<double>& v_values, const StepCoefficients& c,
                                std::span<const double> g) {
  MultiplyByRatio(v, c.ratios, buffer);
  try {
    v.SubScaled(c.one_minus_gamma, g);
  } catch (const FixedPointOverflow&) {
    DivideByRatio(v, c.ratios, buffer);  // leave the state as it was
    throw;
  }
  v.CopyValuesTo(v_values);
  try {
    w.AddScaled(c.alpha, v_values);
  } catch (const FixedPointOverflow&) {
    v.AddScaled(c.one_minus_gamma, g);
    DivideByRatio(v, c.ratios, buffer);
    v.CopyValuesTo(v_values);  // the old v's doubles again
    throw;
  }
}

void FixedPointTrajectory::StepForward(const StepCoefficients& c, std::span<const double> g) {
  Step(w_, v_, *buffer_, v_values_, c, g);
  w_.CopyValuesTo(w_values_);
}

void FixedPointTrajectory::UndoPosition(const StepCoefficients& c) {
  w_.SubScaled(c.alpha, v_values_);
  w_.CopyValuesTo(w_values_);
}

void FixedPointTrajectory::UndoVelocity(const StepCoefficients& c, std::span<const double> g) {
  v_.AddScaled(c.one_minus_gamma, g);
  DivideByRatio(v_, c.ratios, *buffer_);
  v_.CopyValuesTo(v_values_);
}

ReversalCheck FixedPointTrajectory::Check() const {
  ReversalCheck check;
  check.buffer_empty = buffer_->Empty();
  check.exact = w_ == w0_ && v_ == v0_ && check.buffer_empty;
  check.max_w0_error = MaxAbsDifference(w_values_, w0_.Values());
  check.max_v0_error = MaxAbsDifference(v_values_, v0_.Values());
  return check;
}

FixedPointState FixedPointTrajectory::Snapshot(std::size_t t) const {
  return {t, w_, v_, buffer_->Clone()};
}

void RecomputingTrajectory::Reset(std::span<const double> w0, std::span<const double> v0) {
  FixedPointTrajectory::Reset(w0, v0);
  recomputed_ = peak_bytes_ = 0;
  g_.resize(w_.size());
  w_scratch_.resize(w_.size());
  v_scratch_.resize(w_.size());
}

void RecomputingTrajectory::Recompute(FixedPointState& state) {
  if (!replay_) throw std::logic_error("checkpointing trajectory: no replay function set");
  if (!state.buffer) throw std::logic_error("checkpointing trajectory: state has no buffer");
  state.w.CopyValuesTo(w_scratch_);
  state.v.CopyValuesTo(v_scratch_);
  replay_(state.t, w_scratch_, g_, coefficients_);
  Step(state.w, state.v, *state.buffer, v_scratch_, coefficients_, g_);
  ++state.t;
  ++recomputed_;
}

ReversalCheck RecomputingTrajectory::Check() const {
  ReversalCheck check = FixedPointTrajectory::Check();
  check.buffer_empty = true;  // the forward buffer is not unwound: snapshots hold copies
  check.exact = w_ == w0_ && v_ == v0_;
  return check;
}

namespace {

// Plain float64 SGD with momentum; reversed by dividing by γ, with no buffer.
class NaiveFloatTrajectory final : public Trajectory {
 public:
  explicit NaiveFloatTrajectory(std::size_t n) : w_(n), v_(n) {}

  void Reset(std::span<const double> w0, std::span<const double> v0) override {
    // Start from the quantised values, like the fixed-point strategies.
    w_ = FixedPointVector::FromDoubles(w0).Values();
    v_ = FixedPointVector::FromDoubles(v0).Values();
    w0_ = w_;
    v0_ = v_;
  }
  std::span<const double> position() const override { return w_; }
  std::span<const double> velocity() const override { return v_; }

  void StepForward(const StepCoefficients& c, std::span<const double> g) override {
    for (std::size_t k = 0; k < w_.size(); ++k) {
      v_[k] = c.gamma[k] * v_[k] - c.one_minus_gamma[k] * g[k];
      w_[k] += c.alpha[k] * v_[k];
    }
  }
  void UndoPosition(const StepCoefficients& c) override {
    for (std::size_t k = 0; k < w_.size(); ++k) w_[k] -= c.alpha[k] * v_[k];
  }
  void UndoVelocity(const StepCoefficients& c, std::span<const double> g) override {
    for (std::size_t k = 0; k < w_.size(); ++k) {
      v_[k] = (v_[k] + c.one_minus_gamma[k] * g[k]) / c.gamma[k];
    }
  }
  ReversalCheck Check() const override {
    ReversalCheck check;
    check.exact = w_ == w0_ && v_ == v0_;
    check.max_w0_error = MaxAbsDifference(w_, w0_);
    check.max_v0_error = MaxAbsDifference(v_, v0_);
    return check;
  }
  std::size_t ExtraBytes() const override { return 0; }

 private:
  std::vector<double> w_, v_, w0_, v0_;
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

std::unique_ptr<Trajectory> MakeTrajectory(ReversalMethod method, std::size_t num_params,
                                           const TrajectoryOptions& options) {
  switch (method) {
    case ReversalMethod::kReversible:
      return std::make_unique<FixedPointTrajectory>(options.buffer, num_params);
    case ReversalMethod::kStoredTrajectory:
      return MakeStoredTrajectory(options.buffer, num_params);
    case ReversalMethod::kNaiveFloat:
      return std::make_unique<NaiveFloatTrajectory>(num_params);
    case ReversalMethod::kCheckpointed:
      return MakeSqrtCheckpointedTrajectory(options.buffer, num_params,
                                            options.checkpoint_interval);
    case ReversalMethod::kRevolve:
      return MakeRevolveTrajectory(options.buffer, num_params,
                                   PlanRevolve(options.steps, options.revolve_snapshots));
  }
  throw std::invalid_argument("MakeTrajectory: unknown method");
}

}  // namespace hypergrad
