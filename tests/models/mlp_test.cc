// The MLP's loss, gradient, exact Hessian-vector product and mixed products against finite
// differences, its layout, and determinism.
#include "models/mlp.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "random/random.h"

namespace hypergrad {
namespace {

std::vector<double> Normal(std::size_t n, std::uint64_t seed, double scale) {
  RandomStream rng(seed);
  std::vector<double> x(n);
  for (double& v : x) v = scale * rng.Normal();
  return x;
}

double Dot(std::span<const double> a, std::span<const double> b) {
  double s = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// A small network with every feature on: two hidden layers, per-parameter L2, inputs as θ.
struct Fixture {
  std::shared_ptr<const Dataset> data =
      std::make_shared<const Dataset>(MakeSyntheticDataset(12, 5, 3, 1));
  Mlp MakeModel(bool scalar_l2 = false) const {
    MlpOptions options;
    options.layer_sizes = {5, 4, 3, 3};
    const std::size_t n = MlpLayout(options.layer_sizes).num_params();
    options.l2 = scalar_l2 ? std::vector<double>{0.03} : Normal(n, 2, 0.01);
    for (double& v : options.l2) v = std::fabs(v);
    options.hyper_l2 = true;
    options.hyper_inputs = true;
    return Mlp(options, data);
  }
  Batch batch{{3, 7, 7, 0, 11}};  // gathered, with a repeated row
};

// Central differences with step h on a smooth function: truncation error O(h²·f''') ≈ 1e-10
// and rounding error ≈ 1e-16·|f|/h ≈ 1e-11 for h = 1e-5, so 1e-7 (absolute, plus the same
// relative) leaves a wide margin while catching any wrong term.
constexpr double kStep = 1e-5;
constexpr double kTolerance = 1e-7;

// grad against central differences of the loss in every `stride`-th coordinate.
void ExpectGradientMatchesDifferences(const Mlp& model, const std::vector<double>& w,
                                      const Batch& batch, std::span<const double> grad,
                                      std::size_t stride = 1) {
  std::vector<double> scratch(w.size());
  for (std::size_t k = 0; k < w.size(); k += stride) {
    std::vector<double> plus = w, minus = w;
    plus[k] += kStep;
    minus[k] -= kStep;
    const double fd =
        (model.Gradient(plus, batch, scratch) - model.Gradient(minus, batch, scratch)) / (2 * kStep);
    EXPECT_NEAR(grad[k], fd, kTolerance * (1 + std::fabs(fd))) << model.ParameterName(k);
  }
}

// hvp against central differences of the gradient along u.
void ExpectHvpMatchesDifferences(const Mlp& model, const std::vector<double>& w,
                                 const std::vector<double>& u, const Batch& batch,
                                 std::span<const double> hvp) {
  const std::size_t n = w.size();
  std::vector<double> plus(n), minus(n), g_plus(n), g_minus(n);
  for (std::size_t k = 0; k < n; ++k) {
    plus[k] = w[k] + kStep * u[k];
    minus[k] = w[k] - kStep * u[k];
  }
  model.Gradient(plus, batch, g_plus);
  model.Gradient(minus, batch, g_minus);
  for (std::size_t k = 0; k < n; ++k) {
    const double fd = (g_plus[k] - g_minus[k]) / (2 * kStep);
    EXPECT_NEAR(hvp[k], fd, kTolerance * (1 + std::fabs(fd))) << model.ParameterName(k);
  }
}

TEST(MlpTest, GradientMatchesFiniteDifferencesOfTheLoss) {
  Fixture f;
  const Mlp model = f.MakeModel();
  const std::vector<double> w = Normal(model.num_params(), 3, 0.5);
  std::vector<double> grad(model.num_params());
  model.Gradient(w, f.batch, grad);
  ExpectGradientMatchesDifferences(model, w, f.batch, grad);
}

TEST(MlpTest, HessianVectorProductMatchesFiniteDifferencesOfTheGradient) {
  Fixture f;
  for (const bool scalar_l2 : {false, true}) {
    const Mlp model = f.MakeModel(scalar_l2);
    const std::size_t n = model.num_params();
    const std::vector<double> w = Normal(n, 4, 0.5), u = Normal(n, 5, 1.0);
    std::vector<double> grad(n), hvp(n), mixed(model.num_hyper());
    model.GradientAndHvp(w, f.batch, u, grad, hvp, mixed);
    ExpectHvpMatchesDifferences(model, w, u, f.batch, hvp);
  }
}

// ∇_θ ⟨∇_w L(w, θ), u⟩ for θ = (λ, training inputs), against differences of ⟨∇_w L, u⟩ in θ.
TEST(MlpTest, MixedProductsMatchFiniteDifferences) {
  Fixture f;
  for (const bool scalar_l2 : {false, true}) {
    const Mlp model = f.MakeModel(scalar_l2);
    const std::size_t n = model.num_params();
    const std::vector<double> w = Normal(n, 6, 0.5), u = Normal(n, 7, 1.0);
    std::vector<double> grad(n), hvp(n), mixed(model.num_hyper());
    model.GradientAndHvp(w, f.batch, u, grad, hvp, mixed);
    const std::size_t l2_count = model.l2().size();
    ASSERT_EQ(mixed.size(), l2_count + f.data->inputs.size());

    // ⟨∇_w L, u⟩ for a model rebuilt with θ changed in coordinate j by `delta`.
    auto directional = [&](std::size_t j, double delta) {
      MlpOptions options{{5, 4, 3, 3}, model.l2(), true, true};
      Dataset data = *f.data;
      if (j < l2_count) options.l2[j] += delta; else data.inputs[j - l2_count] += delta;
      const Mlp changed(options, std::make_shared<const Dataset>(data));
      std::vector<double> g(n);
      changed.Gradient(w, f.batch, g);
      return Dot(g, u);
    };
    for (std::size_t j = 0; j < mixed.size(); ++j) {
      const double fd = (directional(j, kStep) - directional(j, -kStep)) / (2 * kStep);
      EXPECT_NEAR(mixed[j], fd, kTolerance * (1 + std::fabs(fd))) << "theta " << j;
    }
    // Rows outside the batch do not influence the loss.
    for (std::size_t r : {1u, 2u, 4u}) {
      for (std::size_t d = 0; d < 5; ++d) EXPECT_EQ(mixed[l2_count + r * 5 + d], 0.0);
    }
  }
}

TEST(MlpTest, OutputsAreBitIdenticalOnEveryCall) {
  Fixture f;
  const Mlp model = f.MakeModel();
  const std::size_t n = model.num_params();
  const std::vector<double> w = Normal(n, 8, 0.5), u = Normal(n, 9, 1.0);
  std::vector<double> g1(n), g2(n), hvp(n), mixed(model.num_hyper());
  const double l1 = model.Gradient(w, f.batch, g1);
  const double l2 = model.GradientAndHvp(w, f.batch, u, g2, hvp, mixed);
  EXPECT_EQ(l1, l2);
  EXPECT_EQ(g1, g2);  // bitwise: the reverse pass relies on it
  std::vector<double> g3(n), hvp2(n), mixed2(model.num_hyper());
  model.GradientAndHvp(w, f.batch, u, g3, hvp2, mixed2);
  EXPECT_EQ(hvp, hvp2);
  EXPECT_EQ(mixed, mixed2);
}

TEST(MlpTest, ContiguousBatchesGiveTheSameBitsAsGatheredOnes) {
  Fixture f;
  const Mlp model = f.MakeModel();
  const std::vector<double> w = Normal(model.num_params(), 10, 0.5);
  std::vector<double> g1(model.num_params()), g2(model.num_params());
  const Batch contiguous{{4, 5, 6, 7}};
  model.Gradient(w, contiguous, g1);
  // The same rows after a detour through a copy: gathered path, must agree bitwise.
  Dataset shuffled = f.data->Slice(4, 8);
  MlpOptions options{{5, 4, 3, 3}, model.l2(), false, false};
  const Mlp other(options, std::make_shared<const Dataset>(shuffled));
  other.Gradient(w, Batch{{0, 1, 2, 3}}, g2);
  EXPECT_EQ(g1, g2);
}

TEST(MlpTest, LossIsMeanCrossEntropyPlusL2WithoutAHalf) {
  // Zero weights: every class has probability 1/C, so the NLL is log C; L2 adds Σ λ w² = 0.
  auto data = std::make_shared<const Dataset>(MakeSyntheticDataset(6, 4, 3, 2));
  MlpOptions options{{4, 3}, {0.5}, false, false};
  const Mlp model(options, data);
  std::vector<double> w(model.num_params(), 0.0), grad(model.num_params());
  EXPECT_NEAR(model.Gradient(w, Batch{{0, 1, 2}}, grad), std::log(3.0), 1e-15);
  w[0] = 2.0;  // adds λ·w² = 0.5·4 = 2 (no ½), plus a change of the NLL
  const double nll = model.Evaluate(w, data->Slice(0, 3)).nll;
  EXPECT_NEAR(model.Gradient(w, Batch{{0, 1, 2}}, grad), nll + 2.0, 1e-14);
}

TEST(MlpLayoutTest, MatchesTheAuthorsLayout) {
  const MlpLayout layout({784, 50, 50, 50, 10});
  EXPECT_EQ(layout.num_params(), 44860u);
  const auto& l = layout.layers();
  EXPECT_EQ(l[0].bias_offset, 39200u);
  EXPECT_EQ(l[1].weight_offset, 39250u);
  EXPECT_EQ(l[1].bias_offset, 41750u);
  EXPECT_EQ(l[2].weight_offset, 41800u);
  EXPECT_EQ(l[3].weight_offset, 44350u);
  EXPECT_EQ(l[3].bias_offset, 44850u);
  EXPECT_EQ(layout.ParameterName(39250 + 41 * 50 + 21), "W1[41,21]");
  EXPECT_EQ(layout.ParameterName(39203), "b0[3]");
  const ParameterBlocks blocks = layout.LayerParamBlocks();
  EXPECT_EQ(blocks.num_blocks(), 8u);
  EXPECT_EQ(blocks.block_of[39199], 0u);
  EXPECT_EQ(blocks.block_of[39200], 1u);
  EXPECT_EQ(blocks.block_of[44859], 7u);
  EXPECT_EQ(blocks.names[6], "W3");
  EXPECT_NO_THROW(blocks.Validate());
  EXPECT_EQ(MlpLayout::Parse("784,10").num_params(), 7850u);
  EXPECT_EQ(MlpLayout({784, 200, 50, 10}).num_params(), 167560u);
  EXPECT_THROW(MlpLayout::Parse("784,x"), std::invalid_argument);
  EXPECT_THROW(MlpLayout::Parse("784"), std::invalid_argument);
  EXPECT_THROW(MlpLayout::Parse("784,0,10"), std::invalid_argument);
}

TEST(MlpTest, RejectsMismatchedDataAndSizes) {
  auto data = std::make_shared<const Dataset>(MakeSyntheticDataset(6, 4, 3, 2));
  EXPECT_THROW(Mlp(MlpOptions{{5, 3}, {}, false, false}, data), std::invalid_argument);
  EXPECT_THROW(Mlp(MlpOptions{{4, 3}, {0.1, 0.2}, false, false}, data), std::invalid_argument);
  EXPECT_THROW(Mlp(MlpOptions{{4, 3}, {}, true, false}, data), std::invalid_argument);
  const Mlp model(MlpOptions{{4, 3}, {}, false, false}, data);
  std::vector<double> w(model.num_params()), g(model.num_params() + 1);
  EXPECT_THROW(model.Gradient(w, Batch{{0}}, g), std::invalid_argument);
  std::vector<double> g_ok(model.num_params());
  EXPECT_THROW(model.Gradient(w, Batch{{0, 9}}, g_ok), std::out_of_range);
}


// A network and batch large enough that every pass is split (parallel.h): 150 rows in four
// pieces, 70 and 40 input units in pieces of 32.
struct SplitFixture {
  std::shared_ptr<const Dataset> data =
      std::make_shared<const Dataset>(MakeSyntheticDataset(160, 70, 5, 11));
  Mlp MakeModel(unsigned threads, TanhKernel tanh = TanhKernel::kLibm) const {
    MlpOptions options{{70, 40, 34, 5}, {}, true, true, threads, tanh};
    options.l2 = Normal(MlpLayout(options.layer_sizes).num_params(), 12, 0.01);
    for (double& v : options.l2) v = std::fabs(v);
    return Mlp(options, data);
  }
  Batch batch = [] {
    Batch b;
    for (std::size_t j = 0; j < 149; ++j) b.rows.push_back((j * 37) % 160);  // odd count, gathered
    return b;
  }();
};

bool SameBits(std::span<const double> a, std::span<const double> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

class MlpTanhTest : public ::testing::TestWithParam<TanhKernel> {};

TEST_P(MlpTanhTest, SplitPassesMatchFiniteDifferences) {
  SplitFixture f;
  const Mlp model = f.MakeModel(2, GetParam());
  const std::size_t n = model.num_params();
  const std::vector<double> w = Normal(n, 13, 0.3), u = Normal(n, 14, 1.0);
  std::vector<double> grad(n), hvp(n), mixed(model.num_hyper());
  model.GradientAndHvp(w, f.batch, u, grad, hvp, mixed);
  ExpectGradientMatchesDifferences(model, w, f.batch, grad, 7);  // every layer is sampled
  ExpectHvpMatchesDifferences(model, w, u, f.batch, hvp);
}

INSTANTIATE_TEST_SUITE_P(Kernels, MlpTanhTest,
                         ::testing::Values(TanhKernel::kLibm, TanhKernel::kPolynomial),
                         [](const auto& p) { return std::string(TanhKernelName(p.param)); });

// The reversal relies on recomputed gradients being the same bits, and users compare runs made
// with different --threads: every output of every pass, for 1 to 4 threads.
TEST(MlpTest, EveryOutputIsTheSameBitsOnAnyNumberOfThreads) {
  SplitFixture f;
  const Mlp one = f.MakeModel(1);
  const std::size_t n = one.num_params();
  const std::vector<double> w = Normal(n, 15, 0.3), u = Normal(n, 16, 1.0);
  std::vector<double> grad(n), hvp(n), mixed(one.num_hyper()), eval_grad(n);
  const double loss = one.GradientAndHvp(w, f.batch, u, grad, hvp, mixed);
  const Evaluation eval = one.Evaluate(w, *f.data, eval_grad);
  for (const unsigned threads : {2u, 3u, 4u}) {
    const Mlp model = f.MakeModel(threads);
    std::vector<double> grad_t(n), hvp_t(n), mixed_t(model.num_hyper()), eval_grad_t(n), g_only(n);
    const double loss_t = model.GradientAndHvp(w, f.batch, u, grad_t, hvp_t, mixed_t);
    EXPECT_TRUE(SameBits({&loss, 1}, {&loss_t, 1})) << threads << " threads";
    EXPECT_TRUE(SameBits(grad, grad_t)) << threads << " threads";
    EXPECT_TRUE(SameBits(hvp, hvp_t)) << threads << " threads";
    EXPECT_TRUE(SameBits(mixed, mixed_t)) << threads << " threads";
    model.Gradient(w, f.batch, g_only);
    EXPECT_TRUE(SameBits(grad, g_only)) << threads << " threads";
    const Evaluation eval_t = model.Evaluate(w, *f.data, eval_grad_t);
    EXPECT_TRUE(SameBits({&eval.nll, 1}, {&eval_t.nll, 1})) << threads << " threads";
    EXPECT_EQ(eval.error, eval_t.error);
    EXPECT_TRUE(SameBits(eval_grad, eval_grad_t)) << threads << " threads";
  }
}

// Compact inputs (bytes converted per batch and per piece of a full-data pass) give the bits of
// the same inputs held as doubles: gradients, HVPs, and an evaluation large enough (5,000 rows)
// to be converted in several pieces of rows and of input columns; so do batches of rows in any
// order, gathered by the pass.
TEST(MlpTest, CompactDataGiveTheBitsOfTheSameDataAsDoubles) {
  const std::size_t rows = 5000, dim = 30;
  RandomStream rng(31);
  std::vector<std::uint8_t> pixels(rows * dim);
  std::vector<std::size_t> labels(rows);
  for (auto& p : pixels) p = static_cast<std::uint8_t>(rng.UniformInt(256));
  for (auto& l : labels) l = rng.UniformInt(4);
  std::vector<double> offset = Normal(dim, 32, 0.1);
  auto compact = std::make_shared<const Dataset>(MakeCompactDataset(pixels, offset, dim, labels, 4));
  std::vector<double> inputs(rows * dim);
  for (std::size_t r = 0; r < rows; ++r) compact->CopyInputRow(r, inputs.data() + r * dim);
  auto dense = std::make_shared<const Dataset>(MakeDataset(inputs, dim, labels, 4));
  for (const unsigned threads : {1u, 2u}) {
    const MlpOptions options{{dim, 12, 4}, {}, false, false, threads};
    const Mlp a(options, compact), b(options, dense);
    const std::size_t n = a.num_params();
    const std::vector<double> w = Normal(n, 33, 0.3), u = Normal(n, 34, 1.0);
    Batch batch;
    for (std::size_t j = 0; j < 200; ++j) batch.rows.push_back(j + 100);  // contiguous
    std::vector<double> ga(n), gb(n), ha(n), hb(n), ea(n), eb(n);
    EXPECT_EQ(a.GradientAndHvp(w, batch, u, ga, ha, {}), b.GradientAndHvp(w, batch, u, gb, hb, {}));
    EXPECT_TRUE(SameBits(ga, gb));
    EXPECT_TRUE(SameBits(ha, hb));
    // Rows in any order (gathered by the pass, piece by piece) give the bits of the same rows
    // laid out in place.
    Batch scattered;
    std::vector<double> picked_inputs;
    std::vector<std::size_t> picked_labels;
    for (std::size_t j = 0; j < 200; ++j) {
      const std::size_t r = (j * 37 + 11) % rows;
      scattered.rows.push_back(r);
      picked_inputs.insert(picked_inputs.end(), inputs.begin() + static_cast<std::ptrdiff_t>(r * dim),
                           inputs.begin() + static_cast<std::ptrdiff_t>((r + 1) * dim));
      picked_labels.push_back(labels[r]);
    }
    const Mlp in_place(options, std::make_shared<const Dataset>(MakeDataset(picked_inputs, dim, picked_labels, 4)));
    Batch first;
    for (std::size_t j = 0; j < 200; ++j) first.rows.push_back(j);
    std::vector<double> gp(n), hp(n);
    const double lp = in_place.GradientAndHvp(w, first, u, gp, hp, {});
    for (const Mlp* m : {&a, &b}) {
      std::vector<double> gs(n), hs(n);
      EXPECT_EQ(m->GradientAndHvp(w, scattered, u, gs, hs, {}), lp) << threads << " threads";
      EXPECT_TRUE(SameBits(gs, gp)) << threads << " threads";
      EXPECT_TRUE(SameBits(hs, hp)) << threads << " threads";
    }
    const Evaluation ca = a.Evaluate(w, *compact, ea), cb = b.Evaluate(w, *dense, eb);
    EXPECT_TRUE(SameBits({&ca.nll, 1}, {&cb.nll, 1})) << threads << " threads";
    EXPECT_EQ(ca.error, cb.error);
    EXPECT_TRUE(SameBits(ea, eb)) << threads << " threads";
  }
  EXPECT_THROW(Mlp(MlpOptions{{dim, 4}, {0.1}, true, true}, compact), std::invalid_argument);
}

}  // namespace
}  // namespace hypergrad
