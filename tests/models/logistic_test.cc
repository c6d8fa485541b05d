// The logistic (softmax) regression model against an independent float64 definition: its loss
// and gradient against central differences of that definition, its Hessian-vector and mixed
// products against differences of the gradient, its hypergradients through exact reversal
// (the optimizers' conformance test), and its registry entry.
#include "models/logistic.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numeric>

#include "models/registry.h"
#include "random/random.h"
#include "support/conformance_problems.h"
#include "support/hypergrad_checker.h"

namespace hypergrad {
namespace {

constexpr std::size_t kInputs = 4, kClasses = 3;

// Values drawn uniformly from [low, high) by a stream seeded with `seed`.
std::vector<double> Draw(std::size_t n, std::uint64_t seed, double low, double high) {
  RandomStream rng(seed);
  return testing::Uniform(n, rng, low, high);
}

double Dot(std::span<const double> a, std::span<const double> b) {
  return std::inner_product(a.begin(), a.end(), b.begin(), 0.0);
}

bool SameBits(std::span<const double> a, std::span<const double> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

// The definition, written independently of logistic.cc: logits class by class, the negative
// log-likelihood −log(exp z_y / Σ_c exp z_c) of the row's label y (no shift: the test's logits
// are small), averaged over the rows, plus Σ_{d,c} λ_c W[d,c]² (λ one value or one per class).
double ReferenceLoss(std::span<const double> w, const Dataset& data,
                     const std::vector<std::size_t>& rows, const std::vector<double>& l2) {
  const std::vector<std::size_t> labels = data.Labels();
  std::vector<double> x(data.input_dim);
  double total = 0.0;
  for (const std::size_t r : rows) {
    data.CopyInputRow(r, x.data());
    double partition = 0.0, z_label = 0.0;
    for (std::size_t c = 0; c < data.classes; ++c) {
      double z = w[data.input_dim * data.classes + c];
      for (std::size_t d = 0; d < data.input_dim; ++d) z += x[d] * w[d * data.classes + c];
      partition += std::exp(z);
      if (c == labels[r]) z_label = z;
    }
    total += -std::log(std::exp(z_label) / partition);
  }
  double loss = total / static_cast<double>(rows.size());
  for (std::size_t c = 0; c < data.classes && !l2.empty(); ++c) {
    const double lambda = l2.size() == 1 ? l2[0] : l2[c];
    for (std::size_t d = 0; d < data.input_dim; ++d) {
      loss += lambda * w[d * data.classes + c] * w[d * data.classes + c];
    }
  }
  return loss;
}

struct Fixture {
  std::shared_ptr<const Dataset> data =
      std::make_shared<const Dataset>(MakeSyntheticDataset(12, kInputs, kClasses, 1));
  std::vector<double> l2 = {0.03, 0.01, 0.07};  // per class
  Logistic MakeModel(std::vector<double> lambda) const {
    return Logistic({std::move(lambda), true}, data);
  }
  Logistic MakeModel() const { return MakeModel(l2); }
  Batch batch{{3, 7, 7, 0, 11}};  // gathered, with a repeated row
  std::vector<double> w = Draw((kInputs + 1) * kClasses, 2, -0.8, 0.8);
  std::vector<double> u = Draw((kInputs + 1) * kClasses, 3, -1.0, 1.0);
};

// Central differences with step h on a smooth function: truncation O(h²·f''') ≈ 1e-10, rounding
// ≈ 1e-16·|f|/h ≈ 1e-11 for h = 1e-5; 1e-7 (absolute plus relative) leaves a wide margin and
// still catches a wrong term of the size of the entries (0.01 to 1 here).
constexpr double kStep = 1e-5;
constexpr double kTolerance = 1e-7;

void ExpectNear(double got, double expected, const std::string& what) {
  EXPECT_NEAR(got, expected, kTolerance * (1.0 + std::fabs(expected))) << what;
}

TEST(LogisticTest, LossAndGradientMatchTheDefinition) {
  const Fixture f;
  for (const std::vector<double>& l2 : {f.l2, std::vector<double>{0.05}, std::vector<double>{}}) {
    const Logistic model({l2, false}, f.data);
    std::vector<double> grad(model.num_params());
    const double loss = model.Gradient(f.w, f.batch, grad);
    EXPECT_NEAR(loss, ReferenceLoss(f.w, *f.data, f.batch.rows, l2), 1e-13 * std::fabs(loss));
    for (std::size_t k = 0; k < f.w.size(); ++k) {
      std::vector<double> plus = f.w, minus = f.w;
      plus[k] += kStep;
      minus[k] -= kStep;
      const double fd = (ReferenceLoss(plus, *f.data, f.batch.rows, l2) -
                         ReferenceLoss(minus, *f.data, f.batch.rows, l2)) / (2 * kStep);
      ExpectNear(grad[k], fd, model.ParameterName(k) + " with " + std::to_string(l2.size()) + " λ");
    }
  }
}

TEST(LogisticTest, HessianVectorProductMatchesDifferencesOfTheGradient) {
  const Fixture f;
  const Logistic model = f.MakeModel();
  const std::size_t n = model.num_params();
  std::vector<double> grad(n), hvp(n), mixed(model.num_hyper()), plain(n);
  model.GradientAndHvp(f.w, f.batch, f.u, grad, hvp, mixed);
  model.Gradient(f.w, f.batch, plain);
  EXPECT_TRUE(SameBits(grad, plain)) << "GradientAndHvp must write Gradient's bits";
  std::vector<double> plus = f.w, minus = f.w, g_plus(n), g_minus(n);
  for (std::size_t k = 0; k < n; ++k) plus[k] += kStep * f.u[k], minus[k] -= kStep * f.u[k];
  model.Gradient(plus, f.batch, g_plus);
  model.Gradient(minus, f.batch, g_minus);
  for (std::size_t k = 0; k < n; ++k) {
    ExpectNear(hvp[k], (g_plus[k] - g_minus[k]) / (2 * kStep), "Hu at " + model.ParameterName(k));
  }
}

TEST(LogisticTest, MixedProductMatchesDifferencesInTheL2Penalties) {
  const Fixture f;
  const Logistic model = f.MakeModel();
  const std::size_t n = model.num_params();
  ASSERT_EQ(model.num_hyper(), kClasses);
  std::vector<double> grad(n), hvp(n), mixed(kClasses);
  model.GradientAndHvp(f.w, f.batch, f.u, grad, hvp, mixed);
  for (std::size_t c = 0; c < kClasses; ++c) {
    std::vector<double> plus = f.l2, minus = f.l2, g(n);
    plus[c] += kStep;
    minus[c] -= kStep;
    f.MakeModel(plus).Gradient(f.w, f.batch, g);
    const double up = Dot(g, f.u);
    f.MakeModel(minus).Gradient(f.w, f.batch, g);
    ExpectNear(mixed[c], (up - Dot(g, f.u)) / (2 * kStep), "∂/∂λ_" + std::to_string(c));
    EXPECT_GT(std::fabs(mixed[c]), 1e-3);  // a term the check can see
  }
}

TEST(LogisticTest, EvaluateIsTheMeanNllOnAllRowsInEitherDataForm) {
  const Fixture f;
  const Logistic model = f.MakeModel();
  std::vector<std::size_t> all(f.data->rows);
  for (std::size_t r = 0; r < all.size(); ++r) all[r] = r;
  std::vector<double> grad(model.num_params());
  const double nll = model.Evaluate(f.w, *f.data, grad);
  EXPECT_NEAR(nll, ReferenceLoss(f.w, *f.data, all, {}), 1e-13 * nll);
  for (std::size_t k = 0; k < f.w.size(); ++k) {
    std::vector<double> plus = f.w, minus = f.w;
    plus[k] += kStep;
    minus[k] -= kStep;
    ExpectNear(grad[k], (ReferenceLoss(plus, *f.data, all, {}) - ReferenceLoss(minus, *f.data, all, {})) / (2 * kStep),
               model.ParameterName(k));
  }
  // 8-bit images, compact and converted up front: the same bits.
  std::vector<std::uint8_t> pixels(12 * kInputs);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>((i * 37) % 256);
  const std::vector<double> offset = {0.1, 0.2, 0.3, 0.4};
  const Dataset compact = MakeCompactDataset(pixels, offset, kInputs, f.data->Labels(), kClasses);
  std::vector<double> doubles(pixels.size());
  for (std::size_t i = 0; i < pixels.size(); ++i) doubles[i] = pixels[i] / 255.0 - offset[i % kInputs];
  const Dataset expanded = MakeDataset(doubles, kInputs, f.data->Labels(), kClasses);
  std::vector<double> g1(model.num_params()), g2(model.num_params());
  const double a = model.Evaluate(f.w, compact, g1), b = model.Evaluate(f.w, expanded, g2);
  EXPECT_EQ(a, b);
  EXPECT_TRUE(SameBits(g1, g2));
  EXPECT_NE(a, nll);  // other data, another loss: the comparison is not vacuous
}

TEST(LogisticTest, LayoutAndBlocks) {
  const Fixture f;
  const Logistic model = f.MakeModel();
  EXPECT_EQ(model.num_params(), 15u);
  EXPECT_EQ(model.ParameterName(5), "W[1,2]");
  EXPECT_EQ(model.ParameterName(13), "b[1]");
  const ParameterBlocks blocks = model.Blocks();
  EXPECT_EQ(blocks.names, (std::vector<std::string>{"W", "b"}));
  EXPECT_EQ(blocks.block_of[11], 0u);
  EXPECT_EQ(blocks.block_of[12], 1u);
  blocks.Validate();
}

TEST(LogisticTest, RefusesBadInput) {
  const Fixture f;
  EXPECT_THROW(Logistic({{0.1, 0.2}, false}, f.data), std::invalid_argument);  // 2 λ, 3 classes
  EXPECT_THROW(Logistic({{-0.1}, false}, f.data), std::invalid_argument);
  EXPECT_THROW(Logistic({{NAN}, false}, f.data), std::invalid_argument);
  EXPECT_THROW(Logistic({{}, true}, f.data), std::invalid_argument);
  EXPECT_THROW(Logistic({{}, false}, nullptr), std::invalid_argument);
  const Logistic model = f.MakeModel();
  std::vector<double> grad(model.num_params()), short_w(3);
  EXPECT_THROW(model.Gradient(short_w, f.batch, grad), std::invalid_argument);
  EXPECT_THROW(model.Gradient(f.w, Batch{{12}}, grad), std::invalid_argument);
  EXPECT_THROW(model.Gradient(f.w, Batch{}, grad), std::invalid_argument);
  std::vector<double> hvp(model.num_params()), mixed(2);
  EXPECT_THROW(model.GradientAndHvp(f.w, f.batch, f.u, grad, hvp, mixed), std::invalid_argument);
}

// Hypergradients through exact reversal with SGD: per-block schedules, per-class λ as θ, meta
// loss the NLL on held-out rows; every hypergradient against central differences.
TEST(LogisticTest, HypergradientsConformWithSgd) {
  const auto train = std::make_shared<const Dataset>(MakeSyntheticDataset(8, 3, 2, 31));
  const auto valid = std::make_shared<const Dataset>(MakeSyntheticDataset(20, 3, 2, 32));
  RandomStream rng(41);
  const auto uniform = [&](std::size_t n, double low, double high) {
    return testing::Uniform(n, rng, low, high);
  };
  testing::ConformanceProblem p;
  auto make = [=](std::span<const double> theta) {
    return std::make_shared<const Logistic>(
        LogisticOptions{std::vector<double>(theta.begin(), theta.end()), true}, train);
  };
  p.blocks = make(std::vector<double>{0.01, 0.01})->Blocks();
  const std::size_t iters = 12;
  p.hyperparameters = OptimizerHyperparameters{iters, 2,
                                               {{"alpha", uniform(iters * 2, 0.05, 0.2)},
                                                {"gamma", uniform(iters * 2, 0.5, 0.9)}},
                                               {}};
  p.batches = RandomBatches(train->rows, 4, 5);
  p.w0 = uniform(8, -0.5, 0.5);
  p.theta = uniform(2, 0.01, 0.1);
  p.make_model = make;
  p.objective = [=](std::span<const double> w, std::span<const double> theta,
                    std::span<double> d_w, std::span<double> d_theta) {
    std::fill(d_theta.begin(), d_theta.end(), 0.0);
    return make(theta)->Evaluate(w, *valid, d_w);
  };
  testing::ExpectOptimizerConforms("sgd", p);
}

TEST(ModelRegistryTest, FindsModelsByNameAndListsThemOtherwise) {
  EXPECT_EQ(FindModel("mlp").name, "mlp");
  EXPECT_EQ(FindModel("logistic").name, "logistic");
  try {
    FindModel("nosuch");
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("unknown model 'nosuch'"), std::string::npos) << e.what();
    for (const ModelInfo& info : Models()) {
      EXPECT_NE(std::string(e.what()).find(info.name), std::string::npos) << e.what();
    }
  }
}

TEST(ModelRegistryTest, RefusesAFlagTheModelDoesNotTakeNamingBoth) {
  const ModelInfo& logistic = FindModel("logistic");
  try {
    logistic.Flags({{"tanh", "libm"}});
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "model logistic takes no flag --tanh (it takes --l2)");
  }
  EXPECT_THROW(logistic.Flags({{"l2", "-1"}}), std::invalid_argument);
  EXPECT_THROW(FindModel("mlp").Flags({{"layers", "784"}}), std::invalid_argument);
  EXPECT_EQ(logistic.Flags({}), (std::map<std::string, std::string>{{"l2", "0"}}));
}

// The registry's logistic entry makes the model above, with its objective and blocks; the MLP's
// entry refuses layers that do not fit the data, naming the flag.
TEST(ModelRegistryTest, MakesTheToolModel) {
  const auto data = std::make_shared<const Dataset>(MakeSyntheticDataset(12, kInputs, kClasses, 1));
  const ToolModel tool = FindModel("logistic").Make(data, {{"l2", "0.25"}});
  ASSERT_EQ(tool.model->num_params(), 15u);
  EXPECT_EQ(tool.blocks().names, (std::vector<std::string>{"W", "b"}));
  EXPECT_EQ(tool.fan_in, (std::vector<std::size_t>{kInputs, kInputs}));
  EXPECT_FALSE(FindModel("logistic").shape({{"l2", "0"}}).has_value());
  const std::vector<double> w = Draw(15, 4, -0.5, 0.5);
  std::vector<double> grad(15);
  const Logistic reference({{0.25}, false}, data);
  EXPECT_EQ(tool.model->Gradient(w, Batch{{1, 2}}, grad), reference.Gradient(w, Batch{{1, 2}}, grad));
  EXPECT_EQ(tool.objective(w, {}), reference.Evaluate(w, *data));
  try {
    FindModel("mlp").Make(data, {{"layers", "5,3"}});
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("--layers 5,3 must start with 4"), std::string::npos) << e.what();
  }
  const ToolModel mlp = FindModel("mlp").Make(data, {{"layers", "4,6,3"}});
  EXPECT_EQ(mlp.model->num_params(), 4u * 6 + 6 + 6 * 3 + 3);
  EXPECT_EQ(mlp.fan_in, (std::vector<std::size_t>{4, 4, 6, 6}));
  const auto shape = FindModel("mlp").shape({{"layers", "4,6,3"}, {"tanh", "libm"}});
  ASSERT_TRUE(shape.has_value());
  EXPECT_EQ(shape->inputs, 4u);
  EXPECT_EQ(shape->classes, 3u);
}

}  // namespace
}  // namespace hypergrad
