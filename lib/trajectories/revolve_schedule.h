// Binomial checkpointing (Griewank & Walther's Revolve): the order in which to take snapshots,
// advance, restore and reverse so that T steps are reversed with s snapshots and the fewest
// forward steps. The schedule comes from ADOL-C's revolve() (Debian's libadolc-dev); it is
// planned once, up front, because revolve() keeps its state in globals (calls are serialised).
#ifndef HYPERGRAD_TRAJECTORIES_REVOLVE_SCHEDULE_H_
#define HYPERGRAD_TRAJECTORIES_REVOLVE_SCHEDULE_H_

#include <cstddef>
#include <vector>

namespace hypergrad {

// One instruction of the schedule. Times are iteration indices: state t is (w_t, v_t) before
// forward step t.
struct RevolveAction {
  enum class Kind {
    kAdvance,       // run forward steps from … to−1 from the current state (to state `to`)
    kTakeSnapshot,  // save the current state (time `from`) in `slot`
    kRestore,       // make the state saved in `slot` (time `from`) the current state
    kReverseStep,   // the current state is state `from`: reverse step `from`
  };
  Kind kind = Kind::kAdvance;
  std::size_t slot = 0;
  std::size_t from = 0, to = 0;  // `to` is used by kAdvance only
  // Slots still needed after this action (0 … live_slots−1); the others may be freed.
  std::size_t live_slots = 0;
};

struct RevolveSchedule {
  std::size_t steps = 0;      // T
  std::size_t snapshots = 0;  // s: slots the schedule may fill at once (state 0 included)
  std::vector<RevolveAction> actions;

  // Forward steps taken by kAdvance actions, the first sweep included (the last step, T−1 → T,
  // is the one being reversed first and is not counted, as in Griewank & Walther).
  std::size_t ForwardSteps() const;
  // Largest number of slots filled at the same time.
  std::size_t PeakSlots() const;
};

// The schedule for reversing `steps` forward steps with `snapshots` slots. Throws
// std::invalid_argument if either is 0, steps ≥ 2^31, or snapshots exceeds ADOL-C's limit
// (1000); std::runtime_error if revolve() reports an error. Thread-safe.
RevolveSchedule PlanRevolve(std::size_t steps, std::size_t snapshots);

// Griewank–Walther's minimal number of forward steps, t(T, s) = r·T − C(s+r, s+1) with r the
// smallest integer such that C(s+r, s) ≥ T (T − 1 when s ≥ T − 1). E.g. t(1000, 10) = 3636.
// Requires 1 ≤ steps < 2^31 and snapshots ≥ 1 (std::invalid_argument otherwise).
std::size_t BinomialForwardSteps(std::size_t steps, std::size_t snapshots);

}  // namespace hypergrad

#endif  // HYPERGRAD_TRAJECTORIES_REVOLVE_SCHEDULE_H_
