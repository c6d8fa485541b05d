#include "trajectories/revolve_schedule.h"

#include <adolc/revolve.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>

namespace hypergrad {

std::size_t RevolveSchedule::ForwardSteps() const {
  std::size_t n = 0;
  for (const RevolveAction& a : actions) {
    if (a.kind == RevolveAction::Kind::kAdvance) n += a.to - a.from;
  }
  return n;
}

std::size_t RevolveSchedule::PeakSlots() const {
  std::size_t peak = 0;
  for (const RevolveAction& a : actions) peak = std::max(peak, a.live_slots);
  return peak;
}

RevolveSchedule PlanRevolve(std::size_t steps, std::size_t snapshots) {
  constexpr std::size_t kMaxSnapshots = ADOLC_CHECKUP;
  if (steps == 0 || steps > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    throw std::invalid_argument("Revolve: number of steps " + std::to_string(steps) +
                                " is not in [1, 2^31)");
  }
  if (snapshots == 0 || snapshots > kMaxSnapshots) {
    throw std::invalid_argument("Revolve: number of snapshots " + std::to_string(snapshots) +
                                " is not in [1, " + std::to_string(kMaxSnapshots) + "]");
  }
  RevolveSchedule schedule{steps, snapshots, {}};
  // revolve() keeps its counters in a global struct: one schedule at a time.
  static std::mutex revolve_mutex;
  std::lock_guard<std::mutex> lock(revolve_mutex);
  int check = -1, capo = 0, fine = static_cast<int>(steps), info = 0;
  const int snaps = static_cast<int>(snapshots);
  for (;;) {
    const int old_capo = capo;
    const revolve_action action = revolve(&check, &capo, &fine, snaps, &info);
    using Kind = RevolveAction::Kind;
    const auto at = static_cast<std::size_t>(capo);
    // `check` is the newest slot in use (−1: none).
    const std::size_t slot = check < 0 ? 0 : static_cast<std::size_t>(check);
    const std::size_t live = check < 0 ? 0 : slot + 1;
    switch (action) {
      case revolve_advance:
        schedule.actions.push_back(
            {Kind::kAdvance, slot, static_cast<std::size_t>(old_capo), at, live});
        break;
      case revolve_takeshot:
        schedule.actions.push_back({Kind::kTakeSnapshot, slot, at, at, live});
        break;
      case revolve_restore:
        schedule.actions.push_back({Kind::kRestore, slot, at, at, live});
        break;
      case revolve_firsturn:
      case revolve_youturn:
        schedule.actions.push_back({Kind::kReverseStep, slot, at, at, live});
        break;
      case revolve_terminate:
        return schedule;
      case revolve_error:
        throw std::runtime_error("Revolve: ADOL-C's revolve() reported error " +
                                 std::to_string(info) + " for " + std::to_string(steps) +
                                 " steps and " + std::to_string(snapshots) + " snapshots");
    }
  }
}

std::size_t BinomialForwardSteps(std::size_t steps, std::size_t snapshots) {
  if (steps == 0 || snapshots == 0 || steps >= (std::size_t{1} << 31)) {
    throw std::invalid_argument("BinomialForwardSteps: need 1 ≤ steps < 2^31 and snapshots ≥ 1");
  }
  if (snapshots + 1 >= steps) return steps - 1;  // a snapshot for every state: one sweep
  // With s < T < 2^31 every product below stays under 2^63.
  const std::uint64_t T = steps, s = snapshots;
  // β(s, r) = C(s+r, s), grown one r at a time until it reaches T (β(s, 0) = 1).
  std::uint64_t r = 0, beta = 1;
  while (beta < T) {
    ++r;
    beta = beta * (s + r) / r;  // exact: C(s+r, s) = C(s+r−1, s)·(s+r)/r
  }
  // C(s+r, s+1) = C(s+r, s)·r/(s+1).
  return static_cast<std::size_t>(r * T - beta * r / (s + 1));
}

}  // namespace hypergrad
