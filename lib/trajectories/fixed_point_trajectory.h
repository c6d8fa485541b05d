// The fixed-point trajectory shared by the reversible method and the checkpointing baselines
// (library-internal: use MakeTrajectory). Fixed-point w and moments u (K·P values)
// with Algorithm 3 for the decays; the double views are refreshed after every change, so
// the increments α·Δ(u) and c·φ(g) are formed from identical doubles in both directions.
#ifndef HYPERGRAD_TRAJECTORIES_FIXED_POINT_TRAJECTORY_H_
#define HYPERGRAD_TRAJECTORIES_FIXED_POINT_TRAJECTORY_H_

#include <memory>
#include <span>
#include <vector>

#include "arithmetic/fixed_point.h"
#include "buffers/info_buffer.h"
#include "trajectories/trajectory.h"

namespace hypergrad {

// Largest |a_k − b_k|; NaN if any difference is NaN (a diverged naive reversal).
double MaxAbsDifference(std::span<const double> a, std::span<const double> b);

// A complete forward state at iteration t: what a snapshot holds so that steps recomputed from
// it pop the very digits the forward pass popped.
struct FixedPointState {
  std::size_t t = 0;
  FixedPointVector w;
  MomentVector u;
  std::unique_ptr<InfoBuffer> buffer;

  FixedPointState Copy() const;
  // Bytes held: w (8 bytes per value), u (8 or 16, its format's width) and the buffer.
  std::size_t Bytes() const;
};

class FixedPointTrajectory : public Trajectory {
 public:
  // P = n parameters; the moments have optimizer.num_moments()·n values, in the format the
  // optimizer declares (std::invalid_argument if its moments declare different ones).
  FixedPointTrajectory(const ExactOptimizer& optimizer, BufferKind kind, std::size_t n);

  void Reset(std::span<const double> w0, std::span<const double> u0) override;
  std::span<const double> position() const override { return w_values_; }
  std::span<const double> moments() const override { return u_values_; }
  void StepForward(const StepCoefficients& c, std::span<const double> g) override;
  void UndoPosition(const StepCoefficients& c) override;
  void UndoMoments(const StepCoefficients& c, std::span<const double> g) override;
  ReversalCheck Check() const override;
  std::size_t ExtraBytes() const override { return buffer_ ? buffer_->AllocatedBytes() : 0; }
  double InformationBits() const override { return buffer_ ? buffer_->InformationBits() : 0.0; }
  void SetThreads(unsigned threads) override { threads_ = threads; }

 protected:
  // One forward step of `state` (u ← r·u + c·φ(g) by Algorithm 3, then w ← w + α·Δ(u)), all
  // or nothing: on FixedPointOverflow the state is unchanged. `u_values` holds u's doubles on
  // entry and on exit.
  void Step(FixedPointVector& w, MomentVector& u, InfoBuffer& buffer,
            std::vector<double>& u_values, const StepCoefficients& c, std::span<const double> g);
  // u += c·φ(g) (stage by stage when the optimizer's inputs read new moments; all or nothing:
  // on FixedPointOverflow u is as on entry, u_values perhaps not); returns the φ applied.
  std::span<const double> AddMomentInputs(MomentVector& u, std::vector<double>& u_values,
                                          const StepCoefficients& c, std::span<const double> g);
  // The inverse on the current state: u_ −= c·φ(g), the last stage first.
  void SubtractMomentInputs(const StepCoefficients& c, std::span<const double> g);
  // Δ(u) for the current moments' doubles.
  std::span<const double> Direction(const StepCoefficients& c, std::span<const double> u_values);
  // The current state (w_t, v_t, a copy of the buffer) at iteration t.
  FixedPointState Snapshot(std::size_t t) const;
  // Bytes of one (w, u) pair.
  std::size_t StateBytes() const { return w_.size() * sizeof(std::int64_t) + u_.Bytes(); }

  const ExactOptimizer& optimizer_;
  BufferKind kind_;
  FixedPointFormat moment_format_;
  FixedPointVector w_, w0_;
  MomentVector u_, u0_;
  std::vector<double> w_values_, u_values_;
  std::unique_ptr<InfoBuffer> buffer_;
  unsigned threads_ = 1;

 private:
  std::vector<double> inputs_, direction_;  // scratch for φ(g) and Δ(u)
  std::vector<double> applied_, stage_;     // staged inputs (MomentStages() > 1)
};

// Base of the checkpointing strategies: recomputes forward steps from a snapshot through the
// replay hook (the forward pass's coefficients and gradients, bit for bit).
class RecomputingTrajectory : public FixedPointTrajectory {
 public:
  using FixedPointTrajectory::FixedPointTrajectory;

  void SetReplay(Replay replay) override { replay_ = std::move(replay); }
  void Reset(std::span<const double> w0, std::span<const double> u0) override;
  std::size_t RecomputedSteps() const override { return recomputed_; }
  std::size_t PeakExtraBytes() const override { return peak_bytes_; }
  ReversalCheck Check() const override;

 protected:
  // Advances `state` by one recomputed step (counted in RecomputedSteps).
  void Recompute(FixedPointState& state);
  // Records the current ExtraBytes() in the peak.
  void NotePeak() { peak_bytes_ = std::max(peak_bytes_, ExtraBytes()); }

 private:
  Replay replay_;
  std::size_t recomputed_ = 0, peak_bytes_ = 0;
  StepCoefficients coefficients_;
  std::vector<double> g_, w_scratch_, u_scratch_;
};

}  // namespace hypergrad

#endif  // HYPERGRAD_TRAJECTORIES_FIXED_POINT_TRAJECTORY_H_
