// The checkpointing baselines (store-all, √T, Revolve): recomputation counts, memory, and
// hypergradients bit-identical to the stored trajectory's.
#include "trajectories/checkpointing.h"

#include <gtest/gtest.h>

#include <string>

#include "support/hypergrad_checker.h"
#include "support/small_mlp_run.h"

namespace hypergrad {
namespace {

using testing::ExpectAllBitwiseEqual;
using testing::SmallMlpRun;

// √T checkpointing (and any snapshot spacing) recomputes each segment once from its snapshot.
TEST(SqrtCheckpointingTest, RecomputesEachSegmentOnceAndMatchesTheStoredTrajectory) {
  const SmallMlpRun run(9);
  struct Case { std::size_t iters, interval, recomputed; };
  for (const Case c : {Case{100, 0, 90}, Case{10, 3, 6}, Case{37, 1, 0}, Case{37, 37, 36},
                       Case{50, 8, 43}}) {
    const std::string what = std::to_string(c.iters) + "/" + std::to_string(c.interval);
    TrainingOptions options{ReversalMethod::kCheckpointed, BufferKind::kFast};
    options.checkpoint_interval = c.interval;
    const auto checkpointed = run.Run(c.iters, 0.2, 0.9, options);
    const auto stored = run.Run(c.iters, 0.2, 0.9, {ReversalMethod::kStoredTrajectory});
    EXPECT_TRUE(checkpointed.hypergradients.reversal.exact) << what;
    EXPECT_EQ(checkpointed.recomputed_steps, c.recomputed) << what;
    EXPECT_GE(checkpointed.peak_extra_bytes, checkpointed.extra_bytes_after_train) << what;
    ExpectAllBitwiseEqual(checkpointed.hypergradients, stored.hypergradients, what);
  }
}

struct RevolveCase {
  std::size_t iters, snapshots;
  BufferKind buffer;
};

class RevolveTrajectoryTest : public ::testing::TestWithParam<RevolveCase> {};

// The reverse pass recomputes exactly t(T, s) − (T − 1) steps (the first sweep is training
// itself), holds at most s snapshots and one working state, and gives the stored trajectory's
// hypergradients bit for bit.
TEST_P(RevolveTrajectoryTest, CountsMemoryAndHypergradients) {
  const RevolveCase c = GetParam();
  const std::string what = "T " + std::to_string(c.iters) + ", s " + std::to_string(c.snapshots);
  const SmallMlpRun run(11);
  TrainingOptions options{ReversalMethod::kRevolve, c.buffer};
  options.revolve_snapshots = c.snapshots;
  const auto revolve = run.Run(c.iters, 0.2, 0.9, options);
  const auto stored = run.Run(c.iters, 0.2, 0.9, {ReversalMethod::kStoredTrajectory, c.buffer});
  EXPECT_TRUE(revolve.hypergradients.reversal.exact) << what;
  EXPECT_EQ(revolve.recomputed_steps, BinomialForwardSteps(c.iters, c.snapshots) - (c.iters - 1))
      << what;
  ExpectAllBitwiseEqual(revolve.hypergradients, stored.hypergradients, what);
  // Memory: a state is 2·8·P bytes (plus a buffer copy); s snapshots + 1 working state, while
  // the stored trajectory holds T states.
  const std::size_t state = 2 * sizeof(std::int64_t) * run.model->num_params();
  const std::size_t states_held = std::min(c.snapshots, c.iters) + 1;
  EXPECT_GE(revolve.peak_extra_bytes, std::min(c.snapshots, c.iters) * state) << what;
  EXPECT_EQ(stored.extra_bytes_after_train, c.iters * state) << what;
  // Buffer copies are a few bytes per parameter and step at most.
  EXPECT_LE(revolve.peak_extra_bytes, states_held * (state + run.model->num_params() * (64 + c.iters)))
      << what;
}

INSTANTIATE_TEST_SUITE_P(
    Grid, RevolveTrajectoryTest,
    ::testing::Values(RevolveCase{1, 1, BufferKind::kFast}, RevolveCase{2, 1, BufferKind::kFast},
                      RevolveCase{10, 2, BufferKind::kFast}, RevolveCase{37, 3, BufferKind::kExact},
                      RevolveCase{37, 3, BufferKind::kFast}, RevolveCase{50, 5, BufferKind::kFast},
                      RevolveCase{100, 2, BufferKind::kFast}, RevolveCase{100, 10, BufferKind::kExact},
                      RevolveCase{20, 30, BufferKind::kFast}),
    [](const ::testing::TestParamInfo<RevolveCase>& param) {
      return "T" + std::to_string(param.param.iters) + "_s" +
             std::to_string(param.param.snapshots) + "_" +
             std::string(BufferKindName(param.param.buffer));
    });

TEST(RevolveTrajectoryTest, ZeroSnapshotsIsAClearError) {
  const SmallMlpRun run(12);
  TrainingOptions options{ReversalMethod::kRevolve};
  options.revolve_snapshots = 0;
  try {
    ReversibleSgd sgd(run.Setup(10, 0.1, 0.9), options);
    FAIL() << "0 snapshots accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("snapshots 0"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace hypergrad
