// The baselines the reversible method is compared with: ways to revisit the forward pass's
// states newest first by spending memory (store every state) or recomputation (checkpointing).
// All three run the very same fixed-point forward pass as the reversible method (the buffer
// included, so that the trajectories are identical), and their hypergradients equal the
// reversible method's bit for bit. Snapshots therefore also hold a copy of the information
// buffer; a float64 implementation of the same baseline would hold the states only.
#ifndef HYPERGRAD_TRAJECTORIES_CHECKPOINTING_H_
#define HYPERGRAD_TRAJECTORIES_CHECKPOINTING_H_

#include <memory>

#include "trajectories/revolve_schedule.h"
#include "trajectories/trajectory.h"

namespace hypergrad {

// Store-all: every (w_t, v_t) kept during the forward pass (what unrolled autodiff does).
// Extra memory 8·(1 + K)·P bytes per step (K moment vectors).
std::unique_ptr<Trajectory> MakeStoredTrajectory(const ExactOptimizer& optimizer, BufferKind buffer,
                                                 std::size_t num_params);

// Snapshot (w, u, buffer) every `interval` steps (≥ 1; ⌈√T⌉ balances the two terms); the reverse
// pass recomputes each segment once from its snapshot and keeps the segment's states: one extra
// forward sweep, memory ≈ (T/interval + interval) states.
std::unique_ptr<Trajectory> MakeSqrtCheckpointedTrajectory(const ExactOptimizer& optimizer,
                                                           BufferKind buffer,
                                                           std::size_t num_params,
                                                           std::size_t interval);

// Binomial checkpointing: snapshots taken, restored and overwritten as `schedule` says (see
// PlanRevolve), so that with schedule.snapshots slots the forward steps number
// BinomialForwardSteps(T, s). Memory: s snapshots plus one working state. The trajectory must
// run exactly schedule.steps forward steps (std::logic_error otherwise).
std::unique_ptr<Trajectory> MakeRevolveTrajectory(const ExactOptimizer& optimizer,
                                                  BufferKind buffer, std::size_t num_params,
                                                  RevolveSchedule schedule);

}  // namespace hypergrad

#endif  // HYPERGRAD_TRAJECTORIES_CHECKPOINTING_H_
