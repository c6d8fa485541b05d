#include "trajectory.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "exact_momentum.h"
#include "fixed_point.h"

namespace hypergrad {
namespace {

// Largest |a_k − b_k|; NaN if any difference is NaN (a diverged naive reversal).
double MaxAbsDifference(std::span<const double> a, std::span<const double> b) {
  double m = 0.0;
  for (std::size_t k = 0; k < a.size(); ++k) {
    const double d = std::fabs(a[k] - b[k]);
    if (std::isnan(d)) return d;
    m = std::max(m, d);
  }
  return m;
}

// Fixed-point w and v with Algorithm 3 for the momentum; the double views are refreshed after
// every change, so the products α·v and (1−γ)·g are formed from identical doubles in both
// directions.
class FixedPointTrajectory : public Trajectory {
 public:
  FixedPointTrajectory(BufferKind kind, std::size_t n)
      : kind_(kind), w_values_(n), v_values_(n) {}

  void Reset(std::span<const double> w0, std::span<const double> v0) override {
    w_ = FixedPointVector::FromDoubles(w0);
    v_ = FixedPointVector::FromDoubles(v0);
    w_.CopyValuesTo(w_values_);
    v_.CopyValuesTo(v_values_);
    w0_ = w_;
    v0_ = v_;
    buffer_ = MakeInfoBuffer(kind_, w_.size());
  }
  std::span<const double> position() const override { return w_values_; }
  std::span<const double> velocity() const override { return v_values_; }

  void StepForward(const StepCoefficients& c, std::span<const double> g) override {
    MultiplyByRatio(v_, c.ratios, *buffer_);
    try {
      v_.SubScaled(c.one_minus_gamma, g);
    } catch (const FixedPointOverflow&) {
      DivideByRatio(v_, c.ratios, *buffer_);  // leave the state as it was
      throw;
    }
    std::vector<double> old_v = v_values_;
    v_.CopyValuesTo(v_values_);
    try {
      w_.AddScaled(c.alpha, v_values_);
    } catch (const FixedPointOverflow&) {
      v_values_ = std::move(old_v);
      v_.AddScaled(c.one_minus_gamma, g);
      DivideByRatio(v_, c.ratios, *buffer_);
      throw;
    }
    w_.CopyValuesTo(w_values_);
  }
  void UndoPosition(const StepCoefficients& c) override {
    w_.SubScaled(c.alpha, v_values_);
    w_.CopyValuesTo(w_values_);
  }
  void UndoVelocity(const StepCoefficients& c, std::span<const double> g) override {
    v_.AddScaled(c.one_minus_gamma, g);
    DivideByRatio(v_, c.ratios, *buffer_);
    v_.CopyValuesTo(v_values_);
  }
  ReversalCheck Check() const override {
    ReversalCheck check;
    check.buffer_empty = buffer_->Empty();
    check.exact = w_ == w0_ && v_ == v0_ && check.buffer_empty;
    check.max_w0_error = MaxAbsDifference(w_values_, w0_.Values());
    check.max_v0_error = MaxAbsDifference(v_values_, v0_.Values());
    return check;
  }
  std::size_t ExtraBytes() const override { return buffer_ ? buffer_->AllocatedBytes() : 0; }
  double InformationBits() const override { return buffer_ ? buffer_->InformationBits() : 0.0; }

 protected:
  BufferKind kind_;
  FixedPointVector w_, v_, w0_, v0_;
  std::vector<double> w_values_, v_values_;
  std::unique_ptr<InfoBuffer> buffer_;
};

// The same forward pass, with every state saved; undoing a step restores the saved state.
class StoredTrajectory final : public FixedPointTrajectory {
 public:
  using FixedPointTrajectory::FixedPointTrajectory;

  void Reset(std::span<const double> w0, std::span<const double> v0) override {
    FixedPointTrajectory::Reset(w0, v0);
    positions_.clear();
    velocities_.clear();
  }
  void StepForward(const StepCoefficients& c, std::span<const double> g) override {
    FixedPointVector w = w_, v = v_;
    FixedPointTrajectory::StepForward(c, g);
    positions_.push_back(std::move(w));
    velocities_.push_back(std::move(v));
  }
  void UndoPosition(const StepCoefficients&) override {
    w_ = std::move(positions_.back());
    positions_.pop_back();
    w_.CopyValuesTo(w_values_);
  }
  void UndoVelocity(const StepCoefficients&, std::span<const double>) override {
    v_ = std::move(velocities_.back());
    velocities_.pop_back();
    v_.CopyValuesTo(v_values_);
  }
  ReversalCheck Check() const override {
    ReversalCheck check = FixedPointTrajectory::Check();
    check.buffer_empty = true;  // the buffer only made the forward pass identical; not unwound
    check.exact = w_ == w0_ && v_ == v0_;
    return check;
  }
  std::size_t ExtraBytes() const override {
    std::size_t states = positions_.size() + velocities_.size();
    return states * w_.size() * sizeof(std::int64_t);
  }

 private:
  std::vector<FixedPointVector> positions_, velocities_;  // w_t, v_t for t < current
};

// The same forward pass with a snapshot (w, v, buffer) every `interval` steps. Undoing step t
// recomputes, once per segment, the states from the segment's snapshot (with the replayed
// gradients and the very same fixed-point step), and hands them out newest first.
class CheckpointedTrajectory final : public FixedPointTrajectory {
 public:
  CheckpointedTrajectory(BufferKind kind, std::size_t n, std::size_t interval)
      : FixedPointTrajectory(kind, n), interval_(std::max<std::size_t>(interval, 1)) {}

  void SetReplay(Replay replay) override { replay_ = std::move(replay); }
  void Reset(std::span<const double> w0, std::span<const double> v0) override {
    FixedPointTrajectory::Reset(w0, v0);
    snapshots_.clear();
    segment_.clear();
    steps_ = recomputed_ = peak_segment_ = 0;
  }
  void StepForward(const StepCoefficients& c, std::span<const double> g) override {
    if (steps_ % interval_ == 0) snapshots_.push_back({w_, v_, buffer_->Clone()});
    FixedPointTrajectory::StepForward(c, g);
    ++steps_;
  }
  void UndoPosition(const StepCoefficients& c) override {
    if (segment_.empty() || c.t < segment_begin_ || c.t >= segment_begin_ + segment_.size()) {
      Recompute(c.t);
    }
    w_ = segment_[c.t - segment_begin_].first;  // the velocity view stays v_{t+1}
    w_.CopyValuesTo(w_values_);
  }
  void UndoVelocity(const StepCoefficients& c, std::span<const double>) override {
    v_ = std::move(segment_[c.t - segment_begin_].second);
    v_.CopyValuesTo(v_values_);
    segment_.pop_back();  // state t is used up
  }
  ReversalCheck Check() const override {
    ReversalCheck check = FixedPointTrajectory::Check();
    check.buffer_empty = true;  // the forward buffer is not unwound: snapshots hold copies
    check.exact = w_ == w0_ && v_ == v0_;
    return check;
  }
  std::size_t ExtraBytes() const override {
    const std::size_t state = 2 * w_.size() * sizeof(std::int64_t);
    std::size_t bytes = peak_segment_ * state;
    for (const Snapshot& s : snapshots_) bytes += state + s.buffer->AllocatedBytes();
    return bytes;
  }
  std::size_t RecomputedSteps() const override { return recomputed_; }

 private:
  struct Snapshot {
    FixedPointVector w, v;
    std::unique_ptr<InfoBuffer> buffer;
  };

  // Fills segment_ with the states (w_τ, v_τ), τ = s … t, s the snapshot at or before t.
  void Recompute(std::size_t t) {
    if (!replay_) throw std::logic_error("CheckpointedTrajectory: no replay function set");
    const Snapshot& snapshot = snapshots_.at(t / interval_);
    // Run the recomputation on this object's own state, so it uses exactly the forward step.
    FixedPointVector w = std::move(w_), v = std::move(v_);
    std::unique_ptr<InfoBuffer> buffer = std::move(buffer_);
    const std::vector<double> w_values = w_values_, v_values = v_values_;
    w_ = snapshot.w;
    v_ = snapshot.v;
    buffer_ = snapshot.buffer->Clone();
    w_.CopyValuesTo(w_values_);
    v_.CopyValuesTo(v_values_);
    segment_.clear();
    segment_begin_ = (t / interval_) * interval_;
    segment_.emplace_back(w_, v_);
    StepCoefficients c;
    std::vector<double> g(w_.size());
    for (std::size_t tau = segment_begin_; tau < t; ++tau) {
      replay_(tau, w_values_, g, c);
      FixedPointTrajectory::StepForward(c, g);
      segment_.emplace_back(w_, v_);
      ++recomputed_;
    }
    peak_segment_ = std::max(peak_segment_, segment_.size());
    w_ = std::move(w);
    v_ = std::move(v);
    buffer_ = std::move(buffer);
    w_values_ = w_values;
    v_values_ = v_values;
  }

  std::size_t interval_;
  Replay replay_;
  std::vector<Snapshot> snapshots_;
  std::vector<std::pair<FixedPointVector, FixedPointVector>> segment_;
  std::size_t segment_begin_ = 0, steps_ = 0, recomputed_ = 0, peak_segment_ = 0;
};

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
  throw std::invalid_argument("unknown reversal method '" + std::string(name) +
                              "' (expected reversible, stored, naive-float or checkpointed)");
}

std::string_view ReversalMethodName(ReversalMethod method) {
  switch (method) {
    case ReversalMethod::kReversible: return "reversible";
    case ReversalMethod::kStoredTrajectory: return "stored";
    case ReversalMethod::kNaiveFloat: return "naive-float";
    case ReversalMethod::kCheckpointed: return "checkpointed";
  }
  return "?";
}

std::unique_ptr<Trajectory> MakeTrajectory(ReversalMethod method, BufferKind buffer,
                                           std::size_t num_params,
                                           std::size_t checkpoint_interval) {
  switch (method) {
    case ReversalMethod::kReversible:
      return std::make_unique<FixedPointTrajectory>(buffer, num_params);
    case ReversalMethod::kStoredTrajectory:
      return std::make_unique<StoredTrajectory>(buffer, num_params);
    case ReversalMethod::kNaiveFloat:
      return std::make_unique<NaiveFloatTrajectory>(num_params);
    case ReversalMethod::kCheckpointed:
      return std::make_unique<CheckpointedTrajectory>(buffer, num_params, checkpoint_interval);
  }
  throw std::invalid_argument("MakeTrajectory: unknown method");
}

}  // namespace hypergrad
