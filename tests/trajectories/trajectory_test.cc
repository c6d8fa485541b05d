// The trajectory strategies' own contract (trajectory.h), below ReversibleTraining's checks.
#include "trajectories/trajectory.h"

#include <gtest/gtest.h>

#include <vector>

namespace hypergrad {
namespace {

// SGD-shaped: one moment, Δ(u) = u, φ(g) = g.
class OneMoment final : public ExactOptimizer {
 public:
  std::string_view name() const override { return "one-moment"; }
  std::size_t num_moments() const override { return 1; }
  std::string MomentName(std::size_t) const override { return "u"; }
  std::vector<std::string> ScheduleNames() const override { return {}; }
  std::size_t iters() const override { return 1; }
  void Coefficients(std::size_t, StepCoefficients&) const override {}
  std::span<const double> MomentInputs(std::size_t, std::span<const double> g,
                                       std::span<const double>, std::span<double>) const override {
    return g;
  }
  std::unique_ptr<AdjointStep> NewAdjointStep(const ParameterBlocks&,
                                              const ElementLoop&) const override {
    return nullptr;  // never reversed here
  }
  std::span<const double> Direction(const StepCoefficients&, std::span<const double> u,
                                    std::span<double>) const override {
    return u;
  }
};

// Every strategy refuses a starting state of the wrong size, for w and for the moments alike.
TEST(TrajectoryTest, ResetRefusesWrongSizesWithEveryMethod) {
  const OneMoment optimizer;
  const TrajectoryOptions options{.checkpoint_interval = 1, .revolve_snapshots = 1, .steps = 1};
  for (ReversalMethod method : {ReversalMethod::kReversible, ReversalMethod::kStoredTrajectory,
                                ReversalMethod::kNaiveFloat, ReversalMethod::kCheckpointed,
                                ReversalMethod::kRevolve}) {
    const auto trajectory = MakeTrajectory(method, optimizer, 3, options);
    const std::vector<double> three(3, 0.1), two(2, 0.1);
    EXPECT_NO_THROW(trajectory->Reset(three, three)) << ReversalMethodName(method);
    EXPECT_THROW(trajectory->Reset(two, three), std::invalid_argument) << ReversalMethodName(method);
    EXPECT_THROW(trajectory->Reset(three, two), std::invalid_argument) << ReversalMethodName(method);
  }
}

}  // namespace
}  // namespace hypergrad
