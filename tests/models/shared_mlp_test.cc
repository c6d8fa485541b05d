// The shared-parameter model (w = T·z per layer) against finite differences: loss gradient,
// Hessian-vector product, the mixed product with respect to T, the pull-back used by the
// meta-objective, and a whole hypergradient through training.
#include "models/shared_mlp.h"

#include <gtest/gtest.h>

#include <cmath>

#include "random/random.h"
#include "support/hypergrad_checker.h"

namespace hypergrad {
namespace {

constexpr std::size_t kTasks = 3;
const std::vector<std::size_t> kLayers = {4, 3, 2};

std::vector<double> Normal(std::size_t n, std::uint64_t seed, double scale) {
  RandomStream rng(seed);
  std::vector<double> x(n);
  for (double& v : x) v = scale * rng.Normal();
  return x;
}

std::vector<std::shared_ptr<const Dataset>> TaskData(std::uint64_t seed) {
  std::vector<std::shared_ptr<const Dataset>> data;
  for (std::size_t t = 0; t < kTasks; ++t) {
    data.push_back(std::make_shared<const Dataset>(MakeSyntheticDataset(5, 4, 2, seed + t)));
  }
  return data;
}

std::vector<double> Sharing(std::uint64_t seed) {
  std::vector<double> t = Normal(2 * kTasks * kTasks, seed, 0.3);
  for (std::size_t layer = 0; layer < 2; ++layer) {
    for (std::size_t r = 0; r < kTasks; ++r) t[layer * 9 + r * 3 + r] += 1.0;
  }
  return t;
}

SharedMlp Make(const std::vector<double>& sharing, unsigned threads = 1) {
  return SharedMlp({kLayers, kTasks, 0.05, threads}, TaskData(1), sharing);
}

double Dot(std::span<const double> a, std::span<const double> b) {
  double s = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Central differences with step 1e-5 on smooth functions: error ≈ 1e-10, rounding ≈ 1e-11.
constexpr double kStep = 1e-5, kTolerance = 1e-7;

TEST(SharedMlpTest, GradientAndHessianVectorProductMatchFiniteDifferences) {
  const SharedMlp model = Make(Sharing(2));
  const std::size_t n = model.num_params();
  const std::vector<double> z = Normal(n, 3, 0.5), u = Normal(n, 4, 1.0);
  std::vector<double> g(n), hvp(n), mixed(model.num_hyper()), gp(n), gm(n);
  model.GradientAndHvp(z, {}, u, g, hvp, mixed);
  for (std::size_t k = 0; k < n; ++k) {
    std::vector<double> plus = z, minus = z;
    plus[k] += kStep;
    minus[k] -= kStep;
    const double fd = (model.Gradient(plus, {}, gp) - model.Gradient(minus, {}, gm)) / (2 * kStep);
    EXPECT_NEAR(g[k], fd, kTolerance * (1 + std::fabs(fd))) << model.ParameterName(k);
  }
  std::vector<double> plus(n), minus(n);
  for (std::size_t k = 0; k < n; ++k) {
    plus[k] = z[k] + kStep * u[k];
    minus[k] = z[k] - kStep * u[k];
  }
  model.Gradient(plus, {}, gp);
  model.Gradient(minus, {}, gm);
  for (std::size_t k = 0; k < n; ++k) {
    const double fd = (gp[k] - gm[k]) / (2 * kStep);
    EXPECT_NEAR(hvp[k], fd, kTolerance * (1 + std::fabs(fd))) << model.ParameterName(k);
  }
}

TEST(SharedMlpTest, MixedProductMatchesFiniteDifferencesInTheSharingMatrices) {
  const std::vector<double> sharing = Sharing(5);
  const SharedMlp model = Make(sharing);
  const std::size_t n = model.num_params();
  const std::vector<double> z = Normal(n, 6, 0.5), u = Normal(n, 7, 1.0);
  std::vector<double> g(n), hvp(n), mixed(model.num_hyper());
  model.GradientAndHvp(z, {}, u, g, hvp, mixed);
  for (std::size_t j = 0; j < sharing.size(); ++j) {
    auto directional = [&](double delta) {
      std::vector<double> changed = sharing;
      changed[j] += delta;
      std::vector<double> grad(n);
      Make(changed).Gradient(z, {}, grad);
      return Dot(grad, u);
    };
    const double fd = (directional(kStep) - directional(-kStep)) / (2 * kStep);
    EXPECT_NEAR(mixed[j], fd, kTolerance * (1 + std::fabs(fd))) << "T entry " << j;
  }
}

TEST(SharedMlpTest, PullBackMatchesFiniteDifferencesOfTheMetaObjective) {
  const std::vector<double> sharing = Sharing(8);
  const SharedMlp model = Make(sharing);
  const auto valid = TaskData(20);
  const std::size_t n = model.num_params();
  const std::vector<double> z = Normal(n, 9, 0.5);
  // f(z, T) = Σ_tasks valid NLL(T·z).
  auto objective = [&](std::span<const double> zz, const std::vector<double>& tt,
                       std::vector<std::vector<double>>* d_w) {
    const SharedMlp m = Make(tt);
    const auto w = m.TaskWeights(zz);
    double f = 0.0;
    for (std::size_t t = 0; t < kTasks; ++t) {
      std::vector<double> d(w[t].size());
      f += m.task_model(t).Evaluate(w[t], *valid[t], d).nll;
      if (d_w) d_w->push_back(d);
    }
    return f;
  };
  std::vector<std::vector<double>> d_w;
  objective(z, sharing, &d_w);
  std::vector<double> d_z(n), d_t(sharing.size());
  model.PullBack(z, d_w, d_z, d_t);
  for (std::size_t k = 0; k < n; ++k) {
    std::vector<double> plus = z, minus = z;
    plus[k] += kStep;
    minus[k] -= kStep;
    const double fd = (objective(plus, sharing, nullptr) - objective(minus, sharing, nullptr)) / (2 * kStep);
    EXPECT_NEAR(d_z[k], fd, kTolerance * (1 + std::fabs(fd)));
  }
  for (std::size_t j = 0; j < sharing.size(); ++j) {
    std::vector<double> plus = sharing, minus = sharing;
    plus[j] += kStep;
    minus[j] -= kStep;
    const double fd = (objective(z, plus, nullptr) - objective(z, minus, nullptr)) / (2 * kStep);
    EXPECT_NEAR(d_t[j], fd, kTolerance * (1 + std::fabs(fd)));
  }
}

TEST(SharedMlpTest, ThreadsDoNotChangeABit) {
  const std::vector<double> sharing = Sharing(10);
  const SharedMlp one = Make(sharing, 1), two = Make(sharing, 2);
  const std::size_t n = one.num_params();
  const std::vector<double> z = Normal(n, 11, 0.5), u = Normal(n, 12, 1.0);
  std::vector<double> g1(n), h1(n), m1(one.num_hyper()), g2(n), h2(n), m2(one.num_hyper());
  EXPECT_EQ(one.GradientAndHvp(z, {}, u, g1, h1, m1), two.GradientAndHvp(z, {}, u, g2, h2, m2));
  EXPECT_EQ(g1, g2);
  EXPECT_EQ(h1, h2);
  EXPECT_EQ(m1, m2);
}

// The whole Omniglot pipeline in miniature: hypergradient of the validation loss at w = T·z_T
// with respect to T, through a full-batch training run (direct part plus reverse pass).
TEST(SharedMlpTest, HypergradientWithRespectToSharingMatchesFiniteDifferences) {
  const auto valid = TaskData(30);
  testing::SgdHypergradProblem p;
  p.theta = Sharing(13);
  p.make_model = [](std::span<const double> theta) {
    return std::make_shared<const SharedMlp>(Make(std::vector<double>(theta.begin(), theta.end())));
  };
  const std::size_t n = Make(p.theta).num_params();
  p.blocks = ParameterBlocks::Single(n);
  p.schedule = SgdSchedule::Constant(8, 1, 0.3, 0.9);
  p.batches = [](std::size_t) { return Batch{}; };
  p.w0 = Normal(n, 14, 0.3);
  p.v0.assign(n, 0.0);
  p.objective = [&](std::span<const double> z, std::span<const double> theta, std::span<double> d_z,
                    std::span<double> d_theta) {
    const SharedMlp m = Make(std::vector<double>(theta.begin(), theta.end()));
    const auto w = m.TaskWeights(z);
    std::vector<std::vector<double>> d_w;
    double f = 0.0;
    for (std::size_t t = 0; t < kTasks; ++t) {
      std::vector<double> d(w[t].size());
      f += m.task_model(t).Evaluate(w[t], *valid[t], d).nll;
      d_w.push_back(d);
    }
    m.PullBack(z, d_w, d_z, d_theta);
    return f;
  };
  testing::ExpectSgdHypergradMatchesFiniteDifferences(p);
}

}  // namespace
}  // namespace hypergrad
