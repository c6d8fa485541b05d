#include "support/hypergrad_checker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace hypergrad::testing {
namespace {

std::unique_ptr<ReversibleTraining> MakeRun(const std::string& optimizer,
                                            const ConformanceProblem& p,
                                            std::span<const double> theta,
                                            const OptimizerHyperparameters& h,
                                            const TrainingOptions& options) {
  return FindOptimizer(optimizer).make(p.make_model(theta), p.blocks, p.batches, h, options);
}

std::vector<double> InitialMoments(const ReversibleTraining& run, const ConformanceProblem& p) {
  if (!p.u0.empty()) return p.u0;
  return std::vector<double>(run.optimizer().num_moments() * p.w0.size(), 0.0);
}

// The point the finite differences move: every input of the float64 run.
struct Point {
  std::vector<double> w0, u0, theta;
  OptimizerHyperparameters h;
};

// f after a float64 training run from the point x.
double MetaLossFloat(const std::string& optimizer, const ConformanceProblem& p, const Point& x) {
  auto run = MakeRun(optimizer, p, x.theta, x.h, {.method = ReversalMethod::kNaiveFloat});
  run->Train(x.w0, x.u0);
  std::vector<double> d_w(x.w0.size()), d_theta(x.theta.size());
  return p.objective(run->weights(), x.theta, d_w, d_theta);
}

}  // namespace

double FiniteDifferenceStep(double value, double step, const OptimizerFlag* flag) {
  if (flag == nullptr) return step;
  return std::min(step, 0.01 * std::min(value - flag->min, flag->max - value));
}

namespace {

// Compares one kind of hypergradient with central differences of f over `values`, the
// coordinates `f_at` reads (it is called with a perturbed copy). The step of entry i is
// options.step times `step_scale` (times |values[i]| when `relative`), at most 1/100 of its
// distance to the ends of `flag`'s range when the values are a registry hyperparameter's
// (FiniteDifferenceStep). The tolerance is options' unless options.tolerance_of names this kind.
void CompareWithFiniteDifferences(const std::function<double(const std::vector<double>&)>& f_at,
                                  const std::vector<double>& values,
                                  const std::vector<double>& analytic, const std::string& name,
                                  const FiniteDifferenceOptions& options,
                                  const OptimizerFlag* flag = nullptr, bool relative = false) {
  ASSERT_EQ(analytic.size(), values.size()) << name;
  std::vector<double> fd(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double step = FiniteDifferenceStep(
        values[i], options.step * (relative ? std::fabs(values[i]) : 1.0), flag);
    ASSERT_GT(step, 0.0) << name << "[" << i << "] = " << values[i]
                         << " lies at an end of its range: no central difference";
    std::vector<double> plus = values, minus = values;
    plus[i] += step;
    minus[i] -= step;
    if (flag != nullptr) {
      ASSERT_TRUE(minus[i] >= flag->min && plus[i] <= flag->max) << name << "[" << i << "]";
    }
    fd[i] = (f_at(plus) - f_at(minus)) / (2 * step);
  }
  double largest = 0.0;
  for (double v : fd) largest = std::max(largest, std::fabs(v));
  const auto named = options.tolerance_of.find(name);
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double tolerance =
        named != options.tolerance_of.end()
            ? named->second * largest
            : options.atol_fraction_of_max * largest + options.rtol * std::fabs(fd[i]);
    EXPECT_NEAR(analytic[i], fd[i], tolerance) << name << "[" << i << "]";
  }
}

// The registry's entry of hyperparameter `name` of `optimizer` (nullptr for α, which has none).
const OptimizerFlag* FlagOf(const std::string& optimizer, const std::string& name) {
  for (const OptimizerFlag& flag : FindOptimizer(optimizer).flags) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

// Σ log2(d/n) over the decays' ratios of every step and parameter, per parameter per step.
double RatioEntropy(const std::string& optimizer, const ConformanceProblem& p) {
  auto run = MakeRun(optimizer, p, p.theta, p.hyperparameters, {});
  const ExactOptimizer& rule = run->optimizer();
  StepCoefficients c;
  double bits = 0.0;
  for (std::size_t t = 0; t < rule.iters(); ++t) {
    rule.Coefficients(t, c);
    for (const DecayRatio& r : c.ratios) bits += std::log2(static_cast<double>(r.d) / r.n);
  }
  return bits / static_cast<double>(rule.iters() * p.w0.size());
}

}  // namespace

void ExpectAllBitwiseEqual(const Hypergradients& a, const Hypergradients& b,
                           const std::string& what) {
  EXPECT_EQ(a.d_w0, b.d_w0) << what;
  EXPECT_EQ(a.d_alpha, b.d_alpha) << what;
  EXPECT_EQ(a.d_theta, b.d_theta) << what;
  for (auto kind : {&Hypergradients::d_u0, &Hypergradients::d_schedules,
                           &Hypergradients::d_scalars}) {
    ASSERT_EQ((a.*kind).size(), (b.*kind).size()) << what;
    for (std::size_t i = 0; i < (a.*kind).size(); ++i) {
      EXPECT_EQ((a.*kind)[i].name, (b.*kind)[i].name) << what;
      EXPECT_EQ((a.*kind)[i].values, (b.*kind)[i].values) << what << ": " << (a.*kind)[i].name;
    }
  }
}

Hypergradients ComputeHypergradients(const std::string& optimizer,
                                     const ConformanceProblem& problem,
                                     const TrainingOptions& options) {
  auto run = MakeRun(optimizer, problem, problem.theta, problem.hyperparameters, options);
  const std::vector<double> u0 = InitialMoments(*run, problem);
  run->Train(problem.w0, u0);
  std::vector<double> d_w(problem.w0.size()), d_theta(problem.theta.size());
  problem.objective(run->weights(), problem.theta, d_w, d_theta);
  return run->Reverse(d_w, d_theta);
}

Hypergradients ExpectStrategiesAgree(const std::string& optimizer, const ConformanceProblem& problem) {
  // Every strategy with both buffers; the exact buffer's reversible result is differenced.
  Hypergradients exact;
  for (BufferKind buffer : {BufferKind::kExact, BufferKind::kFast}) {
    const std::string name(BufferKindName(buffer));
    // Two Revolve snapshots: even short runs then need restores and repeated advances.
    const auto run = [&](ReversalMethod method) {
      return ComputeHypergradients(optimizer, problem,
                                   {.method = method, .buffer = buffer, .revolve_snapshots = 2});
    };
    const Hypergradients reversible = run(ReversalMethod::kReversible);
    const Hypergradients stored = run(ReversalMethod::kStoredTrajectory);
    EXPECT_TRUE(reversible.reversal.exact) << name << ": w_0 and the moments not recovered";
    EXPECT_TRUE(reversible.reversal.buffer_empty) << name;
    ExpectAllBitwiseEqual(reversible, stored, name + " buffer: reversible vs stored trajectory");
    for (ReversalMethod method : {ReversalMethod::kCheckpointed, ReversalMethod::kRevolve}) {
      ExpectAllBitwiseEqual(run(method), stored,
                            name + " buffer: " + std::string(ReversalMethodName(method)) +
                                " vs stored trajectory");
    }
    if (buffer == BufferKind::kExact) exact = reversible;
  }
  return exact;
}

void ExpectOptimizerConforms(const std::string& optimizer, const ConformanceProblem& problem,
                             const FiniteDifferenceOptions& options) {
  // Every strategy with both buffers; the exact buffer's reversible result is differenced.
  const Hypergradients exact = ExpectStrategiesAgree(optimizer, problem);
  double exact_bits = 0.0;
  // Over a long run the exact buffer holds log2(d/n) bits per ratio applied (each multiply by
  // n/d pushes a digit of radix d and pops one of radix n); short runs from zero moments hold
  // less. Measured on kBitsSteps steps of the problem's first-step hyperparameters.
  constexpr std::size_t kBitsSteps = 300;
  ConformanceProblem long_run = problem;
  OptimizerHyperparameters& h = long_run.hyperparameters;
  for (auto& [name, values] : h.schedules) {
    std::vector<double> tiled;
    for (std::size_t t = 0; t < kBitsSteps; ++t) {
      tiled.insert(tiled.end(), values.begin(), values.begin() + static_cast<std::ptrdiff_t>(h.blocks));
    }
    values = std::move(tiled);
  }
  h.iters = kBitsSteps;
  auto trained = MakeRun(optimizer, long_run, problem.theta, h, {.buffer = BufferKind::kExact});
  trained->Train(problem.w0, InitialMoments(*trained, problem));
  exact_bits = trained->information_bits_after_train() /
               static_cast<double>(kBitsSteps * problem.w0.size());
  const double entropy = RatioEntropy(optimizer, long_run);
  EXPECT_NEAR(exact_bits, entropy, 0.1 * entropy + 0.01) << "bits per parameter per step";

  Point x{problem.w0, {}, problem.theta, problem.hyperparameters};
  {
    auto run = MakeRun(optimizer, problem, problem.theta, problem.hyperparameters, {});
    x.u0 = InitialMoments(*run, problem);
  }
  const auto f = [&](const Point& y) { return MetaLossFloat(optimizer, problem, y); };
  const auto compare = [&](auto member_of, const std::vector<double>& values,
                           const std::vector<double>& analytic, const std::string& name,
                           const OptimizerFlag* flag = nullptr) {
    CompareWithFiniteDifferences(
        [&](const std::vector<double>& v) {
          Point y = x;
          member_of(y) = v;
          return f(y);
        },
        values, analytic, name, options, flag);
  };
  compare([](Point& y) -> std::vector<double>& { return y.w0; }, x.w0, exact.d_w0, "d_w0");
  const std::size_t n = problem.w0.size();
  for (std::size_t i = 0; i < exact.d_u0.size(); ++i) {
    const std::vector<double> moment(x.u0.begin() + static_cast<std::ptrdiff_t>(i * n),
                                     x.u0.begin() + static_cast<std::ptrdiff_t>((i + 1) * n));
    bool refused = false;
    for (std::size_t k = 0; k < n && !refused; ++k) {
      Point y = x;
      y.u0[i * n + k] -= options.step;
      try {
        f(y);
      } catch (const std::invalid_argument&) {
        refused = true;
      }
    }
    if (refused) continue;  // e.g. s_0 = 0 may not be stepped below 0
    CompareWithFiniteDifferences(
        [&](const std::vector<double>& v) {
          Point y = x;
          std::copy(v.begin(), v.end(), y.u0.begin() + static_cast<std::ptrdiff_t>(i * n));
          return f(y);
        },
        moment, exact.d_u0[i].values, "d_" + exact.d_u0[i].name + "0", options);
  }
  compare([](Point& y) -> std::vector<double>& { return y.h.schedules["alpha"]; },
          x.h.schedules["alpha"], exact.d_alpha, "d_alpha");
  for (const NamedValues& d : exact.d_schedules) {
    compare([&](Point& y) -> std::vector<double>& { return y.h.schedules[d.name]; },
            x.h.schedules[d.name], d.values, "d_" + d.name, FlagOf(optimizer, d.name));
  }
  for (const NamedValues& d : exact.d_scalars) {
    const double value = x.h.scalars[d.name];
    CompareWithFiniteDifferences(
        [&](const std::vector<double>& v) {
          Point y = x;
          y.h.scalars[d.name] = v[0];
          return f(y);
        },
        {value}, d.values, "d_" + d.name, options, FlagOf(optimizer, d.name), /*relative=*/true);
  }
  if (!problem.theta.empty()) {
    compare([](Point& y) -> std::vector<double>& { return y.theta; }, x.theta, exact.d_theta,
            "d_theta");
  }
}

void ExpectSgdHypergradMatchesFiniteDifferences(const SgdHypergradProblem& problem,
                                                const FiniteDifferenceOptions& options) {
  const SgdSchedule& s = problem.schedule;
  ConformanceProblem p{problem.make_model, problem.theta, problem.blocks, problem.batches,
                       problem.w0, problem.v0,
                       {s.iters, s.blocks, {{"alpha", s.alpha}, {"gamma", s.gamma}}, {}},
                       problem.objective};
  ExpectOptimizerConforms("sgd", p, options);
}

}  // namespace hypergrad::testing
