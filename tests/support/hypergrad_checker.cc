#include "support/hypergrad_checker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

namespace hypergrad::testing {
namespace {

struct Point {
  std::vector<double> w0, v0, alpha, gamma, theta;
};

TrainingSetup MakeSetup(const HypergradProblem& p, const Point& x) {
  Schedule schedule = p.schedule;
  schedule.alpha = x.alpha;
  schedule.gamma = x.gamma;
  return {p.make_model(x.theta), p.blocks, schedule, p.batches};
}

// f after a float64 training run from the point x.
double MetaLossFloat(const HypergradProblem& p, const Point& x) {
  ReversibleSgd sgd(MakeSetup(p, x), {.method = ReversalMethod::kNaiveFloat});
  sgd.Train(x.w0, x.v0);
  std::vector<double> d_w(x.w0.size()), d_theta(x.theta.size());
  return p.objective(sgd.weights(), x.theta, d_w, d_theta);
}


// Compares one kind of hypergradient with central differences of f over `values`, the
// coordinates `f_at` reads (it is called with a perturbed copy). Steps are options.step times
// `step_scale`.
void CompareWithFiniteDifferences(const std::function<double(const std::vector<double>&)>& f_at,
                                  const std::vector<double>& values,
                                  const std::vector<double>& analytic, const std::string& name,
                                  const FiniteDifferenceOptions& options,
                                  double step_scale = 1.0) {
  ASSERT_EQ(analytic.size(), values.size()) << name;
  const double step = options.step * step_scale;
  std::vector<double> fd(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::vector<double> plus = values, minus = values;
    plus[i] += step;
    minus[i] -= step;
    fd[i] = (f_at(plus) - f_at(minus)) / (2 * step);
  }
  double largest = 0.0;
  for (double v : fd) largest = std::max(largest, std::fabs(v));
  for (std::size_t i = 0; i < values.size(); ++i) {
    EXPECT_NEAR(analytic[i], fd[i],
                options.atol_fraction_of_max * largest + options.rtol * std::fabs(fd[i]))
        << name << "[" << i << "]";
  }
}

// The same for one member of a point x: f(x with x.*member replaced).
template <class Point, class F>
void CompareMember(F meta_loss, const Point& x, std::vector<double> Point::*member,
                   const std::vector<double>& analytic, const std::string& name,
                   const FiniteDifferenceOptions& options, double step_scale = 1.0) {
  CompareWithFiniteDifferences(
      [&](const std::vector<double>& values) {
        Point y = x;
        y.*member = values;
        return meta_loss(y);
      },
      x.*member, analytic, name, options, step_scale);
}

struct AdamPoint {
  std::vector<double> w0, alpha, beta1, beta2, eps, theta;
};

// f after a float64 Adam run from the point x.
double MetaLossFloat(const AdamHypergradProblem& p, const AdamPoint& x) {
  AdamSchedule schedule = p.schedule;
  schedule.alpha = x.alpha;
  schedule.beta1 = x.beta1;
  schedule.beta2 = x.beta2;
  schedule.eps = x.eps[0];
  ReversibleAdam adam({p.make_model(x.theta), p.blocks, schedule, p.batches},
                      {.method = ReversalMethod::kNaiveFloat});
  adam.Train(x.w0);
  std::vector<double> d_w(x.w0.size()), d_theta(x.theta.size());
  return p.objective(adam.weights(), x.theta, d_w, d_theta);
}

// Runs `run(method, buffer)` for every strategy and both buffers; checks that the reversible run
// came back exactly and that every strategy equals the stored trajectory bit for bit. Returns
// the exact buffer's reversible result.
template <class Result, class Run>
Result ExpectStrategiesAgree(Run run) {
  Result exact;
  for (BufferKind buffer : {BufferKind::kExact, BufferKind::kFast}) {
    const std::string name(BufferKindName(buffer));
    const Result reversible = run(ReversalMethod::kReversible, buffer);
    const Result stored = run(ReversalMethod::kStoredTrajectory, buffer);
    EXPECT_TRUE(reversible.reversal.exact) << name << ": w_0 and the moments not recovered";
    EXPECT_TRUE(reversible.reversal.buffer_empty) << name;
    ExpectAllBitwiseEqual(reversible, stored, name + " buffer: reversible vs stored trajectory");
    for (ReversalMethod method : {ReversalMethod::kCheckpointed, ReversalMethod::kRevolve}) {
      ExpectAllBitwiseEqual(run(method, buffer), stored,
                            name + " buffer: " + std::string(ReversalMethodName(method)) +
                                " vs stored trajectory");
    }
    if (buffer == BufferKind::kExact) exact = reversible;
  }
  return exact;
}

}  // namespace

void ExpectAllBitwiseEqual(const Hypergradients& a, const Hypergradients& b,
                           const std::string& what) {
  EXPECT_EQ(a.d_w0, b.d_w0) << what;
  EXPECT_EQ(a.d_v0, b.d_v0) << what;
  EXPECT_EQ(a.d_alpha, b.d_alpha) << what;
  EXPECT_EQ(a.d_gamma, b.d_gamma) << what;
  EXPECT_EQ(a.d_theta, b.d_theta) << what;
}

Hypergradients ComputeHypergradients(const HypergradProblem& problem,
                                     const SgdOptions& options) {
  ReversibleSgd sgd({problem.make_model(problem.theta), problem.blocks, problem.schedule,
                     problem.batches},
                    options);
  sgd.Train(problem.w0, problem.v0);
  std::vector<double> d_w(problem.w0.size()), d_theta(problem.theta.size());
  problem.objective(sgd.weights(), problem.theta, d_w, d_theta);
  return sgd.Reverse(d_w, d_theta);
}

void ExpectHypergradMatchesFiniteDifferences(const HypergradProblem& problem,
                                             const FiniteDifferenceOptions& options) {
  const Hypergradients exact = ExpectStrategiesAgree<Hypergradients>(
      [&](ReversalMethod method, BufferKind buffer) {
        // Two Revolve snapshots: even short runs then need restores and repeated advances.
        return ComputeHypergradients(
            problem, {.method = method, .buffer = buffer, .revolve_snapshots = 2});
      });
  const Point x{problem.w0, problem.v0, problem.schedule.alpha, problem.schedule.gamma,
                problem.theta};
  const auto f = [&](const Point& y) { return MetaLossFloat(problem, y); };
  CompareMember(f, x, &Point::w0, exact.d_w0, "d_w0", options);
  CompareMember(f, x, &Point::v0, exact.d_v0, "d_v0", options);
  CompareMember(f, x, &Point::alpha, exact.d_alpha, "d_alpha", options);
  CompareMember(f, x, &Point::gamma, exact.d_gamma, "d_gamma", options);
  if (!problem.theta.empty()) CompareMember(f, x, &Point::theta, exact.d_theta, "d_theta", options);
}

void ExpectAllBitwiseEqual(const AdamHypergradients& a, const AdamHypergradients& b,
                           const std::string& what) {
  EXPECT_EQ(a.d_w0, b.d_w0) << what;
  EXPECT_EQ(a.d_m0, b.d_m0) << what;
  EXPECT_EQ(a.d_s0, b.d_s0) << what;
  EXPECT_EQ(a.d_alpha, b.d_alpha) << what;
  EXPECT_EQ(a.d_beta1, b.d_beta1) << what;
  EXPECT_EQ(a.d_beta2, b.d_beta2) << what;
  EXPECT_EQ(a.d_eps, b.d_eps) << what;
  EXPECT_EQ(a.d_theta, b.d_theta) << what;
}

AdamHypergradients ComputeHypergradients(const AdamHypergradProblem& problem,
                                         const TrainingOptions& options) {
  ReversibleAdam adam({problem.make_model(problem.theta), problem.blocks, problem.schedule,
                       problem.batches},
                      options);
  adam.Train(problem.w0);
  std::vector<double> d_w(problem.w0.size()), d_theta(problem.theta.size());
  problem.objective(adam.weights(), problem.theta, d_w, d_theta);
  return adam.Reverse(d_w, d_theta);
}

AdamHypergradients ExpectAdamStrategiesAgree(const AdamHypergradProblem& problem) {
  return ExpectStrategiesAgree<AdamHypergradients>([&](ReversalMethod method, BufferKind buffer) {
    return ComputeHypergradients(problem,
                                 {.method = method, .buffer = buffer, .revolve_snapshots = 2});
  });
}

void ExpectAdamHypergradMatchesFiniteDifferences(const AdamHypergradProblem& problem,
                                                 const FiniteDifferenceOptions& options) {
  const AdamHypergradients exact = ExpectAdamStrategiesAgree(problem);
  const AdamSchedule& s = problem.schedule;
  const AdamPoint x{problem.w0, s.alpha, s.beta1, s.beta2, {s.eps}, problem.theta};
  const auto f = [&](const AdamPoint& y) { return MetaLossFloat(problem, y); };
  CompareMember(f, x, &AdamPoint::w0, exact.d_w0, "d_w0", options);
  CompareMember(f, x, &AdamPoint::alpha, exact.d_alpha, "d_alpha", options);
  CompareMember(f, x, &AdamPoint::beta1, exact.d_beta1, "d_beta1", options);
  CompareMember(f, x, &AdamPoint::beta2, exact.d_beta2, "d_beta2", options);
  CompareMember(f, x, &AdamPoint::eps, {exact.d_eps}, "d_eps", options, s.eps);
  if (!problem.theta.empty()) {
    CompareMember(f, x, &AdamPoint::theta, exact.d_theta, "d_theta", options);
  }
}

}  // namespace hypergrad::testing
