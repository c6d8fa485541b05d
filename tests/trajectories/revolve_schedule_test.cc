// Revolve's schedule (ADOL-C) against Griewank & Walther's closed form, and its consistency.
#include "trajectories/revolve_schedule.h"

#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

namespace hypergrad {
namespace {

TEST(BinomialForwardStepsTest, KnownValues) {
  EXPECT_EQ(BinomialForwardSteps(1000, 10), 3636u);   // the example
  EXPECT_EQ(BinomialForwardSteps(6, 2), 8u);          // r = 2: 2·6 − C(4, 3)
  EXPECT_EQ(BinomialForwardSteps(10000, 2), 932820u); // r = 140: 140·10⁴ − C(142, 3)
  EXPECT_EQ(BinomialForwardSteps(1, 1), 0u);
  EXPECT_EQ(BinomialForwardSteps(5, 10), 4u);         // a slot per state: one sweep, T − 1
  EXPECT_EQ(BinomialForwardSteps(10, 8), 10u);        // s = T − 2: r = 2, 2T − C(T, T−1) = T
  EXPECT_EQ(BinomialForwardSteps(100, 1), 4950u);     // one slot: T(T−1)/2
  EXPECT_THROW(BinomialForwardSteps(0, 1), std::invalid_argument);
  EXPECT_THROW(BinomialForwardSteps(10, 0), std::invalid_argument);
}

// Plays the schedule on abstract states: advances move the current time, snapshots hold times.
// Every step must be reversed once, newest first, from the right state, restores must read a
// filled slot, and no more than s slots may be in use.
void ExpectScheduleIsConsistent(const RevolveSchedule& schedule) {
  using Kind = RevolveAction::Kind;
  std::vector<std::optional<std::size_t>> slots(schedule.snapshots);
  std::size_t current = 0, next_reverse = schedule.steps;
  for (const RevolveAction& a : schedule.actions) {
    switch (a.kind) {
      case Kind::kAdvance:
        ASSERT_EQ(a.from, current);
        ASSERT_GT(a.to, a.from);
        current = a.to;
        break;
      case Kind::kTakeSnapshot:
        ASSERT_LT(a.slot, slots.size());
        ASSERT_EQ(a.from, current);
        slots[a.slot] = current;
        break;
      case Kind::kRestore:
        ASSERT_LT(a.slot, slots.size());
        ASSERT_TRUE(slots[a.slot].has_value()) << "restore from an empty slot " << a.slot;
        ASSERT_EQ(*slots[a.slot], a.from);
        current = a.from;
        break;
      case Kind::kReverseStep:
        ASSERT_EQ(a.from, current);
        ASSERT_EQ(a.from + 1, next_reverse) << "steps must be reversed newest first";
        next_reverse = a.from;
        break;
    }
    ASSERT_LE(a.live_slots, schedule.snapshots);
    for (std::size_t k = a.live_slots; k < slots.size(); ++k) slots[k].reset();
  }
  EXPECT_EQ(next_reverse, 0u) << "every step reversed";
  EXPECT_LE(schedule.PeakSlots(), schedule.snapshots);
}

struct GridCase {
  std::size_t steps, snapshots;
};

class RevolveScheduleTest : public ::testing::TestWithParam<GridCase> {};

TEST_P(RevolveScheduleTest, ForwardStepsEqualTheClosedFormAndScheduleIsConsistent) {
  const GridCase c = GetParam();
  const RevolveSchedule schedule = PlanRevolve(c.steps, c.snapshots);
  EXPECT_EQ(schedule.ForwardSteps(), BinomialForwardSteps(c.steps, c.snapshots));
  ExpectScheduleIsConsistent(schedule);
}

std::vector<GridCase> Grid() {
  std::vector<GridCase> grid;
  for (std::size_t steps : {1, 2, 3, 7, 10, 37, 100, 1000, 10000}) {
    for (std::size_t snapshots : {1, 2, 3, 5, 10, 20}) {
      if (snapshots == 1 && steps > 1000) continue;  // T²/2 advances: nothing new to learn
      grid.push_back({steps, snapshots});
    }
  }
  return grid;
}

INSTANTIATE_TEST_SUITE_P(Grid, RevolveScheduleTest, ::testing::ValuesIn(Grid()),
                         [](const ::testing::TestParamInfo<GridCase>& param) {
                           return "T" + std::to_string(param.param.steps) + "_s" +
                                  std::to_string(param.param.snapshots);
                         });

TEST(PlanRevolveTest, RejectsOutOfRangeArguments) {
  EXPECT_THROW(PlanRevolve(0, 3), std::invalid_argument);
  EXPECT_THROW(PlanRevolve(10, 0), std::invalid_argument);
  EXPECT_THROW(PlanRevolve(10, 1001), std::invalid_argument);
}

// revolve() keeps global state; concurrent plans must not interfere.
TEST(PlanRevolveTest, ConcurrentPlansAreIdentical) {
  std::vector<RevolveSchedule> plans(4);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < plans.size(); ++i) {
    threads.emplace_back([&plans, i] { plans[i] = PlanRevolve(3000, 7); });
  }
  for (std::thread& t : threads) t.join();
  for (const RevolveSchedule& p : plans) {
    EXPECT_EQ(p.ForwardSteps(), BinomialForwardSteps(3000, 7));
    ASSERT_EQ(p.actions.size(), plans[0].actions.size());
  }
}

}  // namespace
}  // namespace hypergrad
