#include "trajectories/checkpointing.h"

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "trajectories/fixed_point_trajectory.h"

namespace hypergrad {
namespace {

// The forward pass with every state saved; undoing a step restores the saved state.
class StoredTrajectory final : public FixedPointTrajectory {
 public:
  using FixedPointTrajectory::FixedPointTrajectory;

  void Reset(std::span<const double> w0, std::span<const double> u0) override {
    FixedPointTrajectory::Reset(w0, u0);
    positions_.clear();
    moments_.clear();
  }
  void StepForward(const StepCoefficients& c, std::span<const double> g) override {
    FixedPointVector w = w_;
    MomentVector u = u_;
    FixedPointTrajectory::StepForward(c, g);
    positions_.push_back(std::move(w));
    moments_.push_back(std::move(u));
  }
  void UndoPosition(const StepCoefficients&) override {
    w_ = std::move(positions_.back());
    positions_.pop_back();
    w_.CopyValuesTo(w_values_);
  }
  void UndoMoments(const StepCoefficients&, std::span<const double>) override {
    u_ = std::move(moments_.back());
    moments_.pop_back();
    u_.CopyValuesTo(u_values_);
  }
  ReversalCheck Check() const override {
    ReversalCheck check = FixedPointTrajectory::Check();
    check.buffer_empty = true;  // the buffer only made the forward pass identical; not unwound
    check.exact = w_ == w0_ && u_ == u0_;
    return check;
  }
  std::size_t ExtraBytes() const override {
    return positions_.size() * StateBytes();
  }

 private:
  std::vector<FixedPointVector> positions_;  // w_t for t < current
  std::vector<MomentVector> moments_;        // u_t for t < current
};

// A snapshot every `interval` steps. Undoing step t recomputes, once per segment, the states
// from the segment's snapshot, and hands them out newest first.
class SqrtCheckpointedTrajectory final : public RecomputingTrajectory {
 public:
  SqrtCheckpointedTrajectory(const ExactOptimizer& optimizer, BufferKind kind, std::size_t n,
                             std::size_t interval)
      : RecomputingTrajectory(optimizer, kind, n), interval_(interval) {
    if (interval == 0) throw std::invalid_argument("checkpointing: snapshot interval must be ≥ 1");
  }

  void Reset(std::span<const double> w0, std::span<const double> u0) override {
    RecomputingTrajectory::Reset(w0, u0);
    snapshots_.clear();
    segment_.clear();
    steps_ = 0;
  }
  void StepForward(const StepCoefficients& c, std::span<const double> g) override {
    if (steps_ % interval_ == 0) snapshots_.push_back(Snapshot(steps_));
    FixedPointTrajectory::StepForward(c, g);
    ++steps_;
    NotePeak();
  }
  void UndoPosition(const StepCoefficients& c) override {
    if (segment_.empty() || c.t < segment_begin_ || c.t >= segment_begin_ + segment_.size()) {
      RecomputeSegment(c.t);
    }
    w_ = segment_[c.t - segment_begin_].first;  // the moments' view stays u_{t+1}
    w_.CopyValuesTo(w_values_);
  }
  void UndoMoments(const StepCoefficients& c, std::span<const double>) override {
    u_ = std::move(segment_[c.t - segment_begin_].second);
    u_.CopyValuesTo(u_values_);
    segment_.pop_back();  // state t is used up
  }
  std::size_t ExtraBytes() const override {
    std::size_t bytes = segment_.size() * StateBytes() + work_.Bytes();
    for (const FixedPointState& s : snapshots_) bytes += s.Bytes();
    return bytes;
  }

 private:
  // Fills segment_ with the states τ = s … t, s the snapshot at or before t.
  void RecomputeSegment(std::size_t t) {
    work_ = snapshots_.at(t / interval_).Copy();
    segment_.clear();
    segment_begin_ = work_.t;
    segment_.emplace_back(work_.w, work_.u);
    while (work_.t < t) {
      Recompute(work_);
      segment_.emplace_back(work_.w, work_.u);
    }
    NotePeak();
    work_ = {};
  }

  std::size_t interval_;
  std::vector<FixedPointState> snapshots_;
  FixedPointState work_;  // the state being advanced while a segment is recomputed
  std::vector<std::pair<FixedPointVector, MomentVector>> segment_;
  std::size_t segment_begin_ = 0, steps_ = 0;
};

// Snapshots placed by Revolve. The forward pass carries out the schedule's first sweep (its
// snapshots; the advances are the forward steps themselves); each reverse step carries out the
// actions up to the next turn, after which `work_` is the state to reverse.
class RevolveTrajectory final : public RecomputingTrajectory {
 public:
  RevolveTrajectory(const ExactOptimizer& optimizer, BufferKind kind, std::size_t n,
                    RevolveSchedule schedule)
      : RecomputingTrajectory(optimizer, kind, n), schedule_(std::move(schedule)) {}

  void Reset(std::span<const double> w0, std::span<const double> u0) override {
    RecomputingTrajectory::Reset(w0, u0);
    slots_.clear();
    slots_.resize(schedule_.snapshots);
    work_ = {};
    next_ = steps_ = 0;
  }
  void StepForward(const StepCoefficients& c, std::span<const double> g) override {
    if (steps_ >= schedule_.steps) {
      throw std::logic_error("Revolve trajectory: schedule planned for " +
                             std::to_string(schedule_.steps) + " steps, step " +
                             std::to_string(steps_) + " requested");
    }
    using Kind = RevolveAction::Kind;
    for (; next_ < schedule_.actions.size(); ++next_) {
      const RevolveAction& a = schedule_.actions[next_];
      if (a.kind == Kind::kTakeSnapshot && a.from == steps_) {
        slots_.at(a.slot) = Snapshot(steps_);
      } else if (a.kind == Kind::kReverseStep && a.from == steps_) {
        work_ = {steps_, w_, u_, nullptr};  // the first turn: state T−1, reversed first
        break;
      } else if (!(a.kind == Kind::kAdvance && a.to == steps_)) {
        break;  // an advance still under way (this forward step is part of it)
      }
    }
    FixedPointTrajectory::StepForward(c, g);
    ++steps_;
    NotePeak();
  }
  void UndoPosition(const StepCoefficients& c) override {
    RunToTurn(c.t);
    w_ = work_.w;  // the moments' view stays u_{t+1}
    w_.CopyValuesTo(w_values_);
  }
  void UndoMoments(const StepCoefficients&, std::span<const double>) override {
    u_ = work_.u;
    u_.CopyValuesTo(u_values_);
  }
  std::size_t ExtraBytes() const override {
    std::size_t bytes = work_.Bytes();
    for (const std::optional<FixedPointState>& s : slots_) bytes += s ? s->Bytes() : 0;
    return bytes;
  }

 private:
  // Carries out the schedule up to and including the turn that reverses step t.
  void RunToTurn(std::size_t t) {
    using Kind = RevolveAction::Kind;
    while (next_ < schedule_.actions.size()) {
      const RevolveAction& a = schedule_.actions[next_++];
      switch (a.kind) {
        case Kind::kRestore:
          work_ = slots_.at(a.slot).value().Copy();
          break;
        case Kind::kAdvance:
          while (work_.t < a.to) Recompute(work_);
          break;
        case Kind::kTakeSnapshot:
          slots_.at(a.slot) = work_.Copy();
          break;
        case Kind::kReverseStep:
          if (a.from != t || work_.t != t) {
            throw std::logic_error("Revolve trajectory: reverse step " + std::to_string(t) +
                                   " requested, schedule is at step " + std::to_string(a.from));
          }
          break;
      }
      NotePeak();
      for (std::size_t k = a.live_slots; k < slots_.size(); ++k) slots_[k].reset();
      if (a.kind == Kind::kReverseStep) return;
    }
    throw std::logic_error("Revolve trajectory: schedule ended before reverse step " +
                           std::to_string(t));
  }

  RevolveSchedule schedule_;
  std::vector<std::optional<FixedPointState>> slots_;
  FixedPointState work_;  // Revolve's current state
  std::size_t next_ = 0, steps_ = 0;
};

}  // namespace

std::unique_ptr<Trajectory> MakeStoredTrajectory(const ExactOptimizer& optimizer, BufferKind buffer,
                                                 std::size_t num_params) {
  return std::make_unique<StoredTrajectory>(optimizer, buffer, num_params);
}

std::unique_ptr<Trajectory> MakeSqrtCheckpointedTrajectory(const ExactOptimizer& optimizer,
                                                           BufferKind buffer,
                                                           std::size_t num_params,
                                                           std::size_t interval) {
  return std::make_unique<SqrtCheckpointedTrajectory>(optimizer, buffer, num_params, interval);
}

std::unique_ptr<Trajectory> MakeRevolveTrajectory(const ExactOptimizer& optimizer,
                                                  BufferKind buffer, std::size_t num_params,
                                                  RevolveSchedule schedule) {
  return std::make_unique<RevolveTrajectory>(optimizer, buffer, num_params, std::move(schedule));
}

}  // namespace hypergrad
