// GemmTrace (models/gemm_trace.h): nothing recorded without a live trace; shapes recorded in
// order on the trace's own thread only; one trace at a time; the MLP's products by whole shape
// (once however the pass is split), listed here from the backpropagation algorithm; the flop
// count; and the replay of recorded shapes.
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "models/gemm_trace.h"
#include "models/mlp.h"
#include "data/dataset.h"

namespace hypergrad {

bool operator==(const GemmShape& x, const GemmShape& y) {
  return x.m == y.m && x.n == y.n && x.k == y.k && x.transpose_a == y.transpose_a &&
         x.transpose_b == y.transpose_b && x.accumulate == y.accumulate;
}
void PrintTo(const GemmShape& s, std::ostream* os) {
  *os << "{" << s.m << "," << s.n << "," << s.k << "," << s.transpose_a << s.transpose_b
      << s.accumulate << "}";
}

namespace {

TEST(GemmTrace, NothingIsRecordedWithoutALiveTrace) {
  EXPECT_FALSE(GemmTrace::Active());
  GemmTrace::Record({2, 3, 4, false, false, false});  // no trace: dropped
  GemmTrace trace;
  EXPECT_TRUE(GemmTrace::Active());
  EXPECT_TRUE(trace.shapes().empty());
}

TEST(GemmTrace, RecordsShapesInOrderAndCountsFlops) {
  const std::vector<GemmShape> shapes = {
      {2, 3, 4, false, false, false}, {5, 1, 7, true, false, true}, {1, 1, 1, false, true, false}};
  {
    GemmTrace trace;
    for (const GemmShape& s : shapes) GemmTrace::Record(s);
    EXPECT_EQ(trace.shapes(), shapes);
    EXPECT_EQ(trace.Flops(), 2.0 * (2 * 3 * 4 + 5 * 1 * 7 + 1));
  }
  EXPECT_FALSE(GemmTrace::Active());  // destroyed: recording stops
}

TEST(GemmTrace, OneTraceAtATimePerThread) {
  GemmTrace trace;
  EXPECT_THROW(GemmTrace second, std::logic_error);
  EXPECT_TRUE(GemmTrace::Active());
}

TEST(GemmTrace, OtherThreadsRecordIntoTheirOwnTraceOnly) {
  GemmTrace trace;
  bool active_there = true;
  std::vector<GemmShape> theirs;
  std::thread other([&] {
    active_there = GemmTrace::Active();
    GemmTrace::Record({9, 9, 9, false, false, false});  // no trace on this thread: dropped
    GemmTrace own;                                     // allowed: another thread
    GemmTrace::Record({8, 8, 8, false, false, false});
    theirs = own.shapes();
  });
  other.join();
  EXPECT_FALSE(active_there);
  EXPECT_TRUE(trace.shapes().empty());
  EXPECT_EQ(theirs, (std::vector<GemmShape>{{8, 8, 8, false, false, false}}));
}

// A 6-8-3 network on 64 rows: Mlp splits the rows into four pieces (and the weight gradients by
// input units), on any thread count; each product is recorded once by its whole shape.
class MlpProducts : public ::testing::TestWithParam<unsigned> {
 protected:
  static constexpr std::size_t kRows = 64;
  void SetUp() override {
    data_ = std::make_shared<const Dataset>(MakeSyntheticDataset(kRows, 6, 3, 5));
    MlpOptions options{{6, 8, 3}, {}, false, false};
    options.threads = GetParam();
    mlp_ = std::make_unique<Mlp>(options, data_);
    w_.resize(mlp_->num_params());
    for (std::size_t k = 0; k < w_.size(); ++k) w_[k] = 0.01 * static_cast<double>(k % 7) - 0.03;
  }
  std::shared_ptr<const Dataset> data_;
  std::unique_ptr<Mlp> mlp_;
  std::vector<double> w_;
};

// Forward: per layer a·W (rows × out, inner in).
const std::vector<GemmShape> kForward = {{64, 8, 6, false, false, false},
                                         {64, 3, 8, false, false, false}};
// Backward: δ_1·W_1ᵀ; then the weight gradients ∂W_1 = a_1ᵀ·δ_1, ∂W_0 = xᵀ·δ_0.
const std::vector<GemmShape> kBackward = {{64, 8, 3, false, true, false},
                                          {8, 3, 64, true, false, false},
                                          {6, 8, 64, true, false, false}};
// With the R-pass, as issued (a GemmPair is one product twice as wide): forward; R-forward
// x·U_0, then R{a_1}·W_1 and a_1·U_1 added; backward δ_1·W_1ᵀ; R-backward R{δ_1}·W_1ᵀ + δ_1·U_1ᵀ
// (no R{∇_x L} asked: nothing for layer 0); the weight gradients and H·u: R{a_1}ᵀ·δ_1, then
// a_1ᵀ·[δ_1 | R{δ_1}] (its second half added to H·u); xᵀ·[δ_0 | R{δ_0}].
const std::vector<GemmShape> kWithR = {
    {64, 8, 6, false, false, false},  {64, 3, 8, false, false, false}, {64, 8, 6, false, false, false},
    {64, 3, 8, false, false, false},  {64, 3, 8, false, false, true},  {64, 8, 3, false, true, false},
    {64, 8, 3, false, true, false},   {64, 8, 3, false, true, true},   {8, 3, 64, true, false, false},
    {8, 6, 64, true, false, true},    {6, 16, 64, true, false, false}};

std::vector<GemmShape> Concat(std::initializer_list<std::vector<GemmShape>> parts) {
  std::vector<GemmShape> all;
  for (const auto& p : parts) all.insert(all.end(), p.begin(), p.end());
  return all;
}

TEST_P(MlpProducts, EvaluateRecordsTheForwardProducts) {
  GemmTrace trace;
  mlp_->Evaluate(w_, *data_);
  EXPECT_EQ(trace.shapes(), kForward);
}

TEST_P(MlpProducts, GradientRecordsForwardAndBackward) {
  std::vector<std::size_t> rows(kRows);
  for (std::size_t r = 0; r < kRows; ++r) rows[r] = r;
  std::vector<double> grad(w_.size());
  GemmTrace trace;
  mlp_->Gradient(w_, Batch{rows}, grad);
  EXPECT_EQ(trace.shapes(), Concat({kForward, kBackward}));
  // 2·(64·8·6 + 64·3·8) forward, 2·(8·3·64 + 64·8·3 + 6·8·64) backward.
  EXPECT_EQ(trace.Flops(), 2.0 * (3072 + 1536) + 2.0 * (1536 + 1536 + 3072));
}

TEST_P(MlpProducts, HessianVectorProductRecordsTheRPasses) {
  std::vector<std::size_t> rows(kRows);
  for (std::size_t r = 0; r < kRows; ++r) rows[r] = r;
  std::vector<double> grad(w_.size()), hvp(w_.size()), u(w_.size(), 0.5);
  GemmTrace trace;
  mlp_->GradientAndHvp(w_, Batch{rows}, u, grad, hvp, {});
  EXPECT_EQ(trace.shapes(), kWithR);
  // The FLOPs of the 13 products (two pairs joined): forward and backward as above, and the
  // R-pass's 2·(64·8·6 + 2·64·3·8 + 2·8·3·64 + 2·64·8·3 + 6·8·64).
  EXPECT_EQ(trace.Flops(), 2.0 * (3072 + 1536) + 2.0 * (1536 + 1536 + 3072) +
                               2.0 * (3072 + 3072 + 3072 + 3072 + 3072));
}

INSTANTIATE_TEST_SUITE_P(Threads, MlpProducts, ::testing::Values(1u, 3u));

TEST(ReplayGemms, ReplaysEveryTransposeAndAccumulateWithoutRecording) {
  const std::vector<GemmShape> shapes = {{3, 4, 5, false, false, false},
                                         {3, 4, 5, true, false, true},
                                         {3, 4, 5, false, true, false},
                                         {6, 2, 7, true, true, true}};
  GemmTrace trace;
  EXPECT_NO_THROW(ReplayGemms(shapes, 3));
  EXPECT_NO_THROW(ReplayGemms(shapes, 0));
  EXPECT_NO_THROW(ReplayGemms({}, 2));
  // The replay goes to OpenBLAS directly, not through the models' kernels: nothing recorded.
  EXPECT_TRUE(trace.shapes().empty());
}

}  // namespace
}  // namespace hypergrad
