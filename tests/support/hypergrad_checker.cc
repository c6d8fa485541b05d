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


// Compares one kind of hypergradient with central differences in the matching coordinates.
void CompareWithFiniteDifferences(const HypergradProblem& p, const Point& x,
                                  std::vector<double> Point::*member,
                                  const std::vector<double>& analytic, const std::string& name,
                                  const FiniteDifferenceOptions& options) {
  const std::vector<double>& values = x.*member;
  ASSERT_EQ(analytic.size(), values.size()) << name;
  std::vector<double> fd(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    Point plus = x, minus = x;
    (plus.*member)[i] += options.step;
    (minus.*member)[i] -= options.step;
    fd[i] = (MetaLossFloat(p, plus) - MetaLossFloat(p, minus)) / (2 * options.step);
  }
  double largest = 0.0;
  for (double v : fd) largest = std::max(largest, std::fabs(v));
  for (std::size_t i = 0; i < values.size(); ++i) {
    EXPECT_NEAR(analytic[i], fd[i],
                options.atol_fraction_of_max * largest + options.rtol * std::fabs(fd[i]))
        << name << "[" << i << "]";
  }
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
  Hypergradients exact;
  for (BufferKind buffer : {BufferKind::kExact, BufferKind::kFast}) {
    const std::string name(BufferKindName(buffer));
    const auto run = [&](ReversalMethod method) {
      // Two Revolve snapshots: even short runs then need restores and repeated advances.
      return ComputeHypergradients(
          problem, {.method = method, .buffer = buffer, .revolve_snapshots = 2});
    };
    const Hypergradients reversible = run(ReversalMethod::kReversible);
    const Hypergradients stored = run(ReversalMethod::kStoredTrajectory);
    EXPECT_TRUE(reversible.reversal.exact) << name << ": w_0, v_0 not recovered bit for bit";
    EXPECT_TRUE(reversible.reversal.buffer_empty) << name;
    ExpectAllBitwiseEqual(reversible, stored, name + " buffer: reversible vs stored trajectory");
    for (ReversalMethod method : {ReversalMethod::kCheckpointed, ReversalMethod::kRevolve}) {
      ExpectAllBitwiseEqual(run(method), stored,
                            name + " buffer: " + std::string(ReversalMethodName(method)) +
                                " vs stored trajectory");
    }
    if (buffer == BufferKind::kExact) exact = reversible;
  }
  const Point x{problem.w0, problem.v0, problem.schedule.alpha, problem.schedule.gamma,
                problem.theta};
  CompareWithFiniteDifferences(problem, x, &Point::w0, exact.d_w0, "d_w0", options);
  CompareWithFiniteDifferences(problem, x, &Point::v0, exact.d_v0, "d_v0", options);
  CompareWithFiniteDifferences(problem, x, &Point::alpha, exact.d_alpha, "d_alpha", options);
  CompareWithFiniteDifferences(problem, x, &Point::gamma, exact.d_gamma, "d_gamma", options);
  if (!problem.theta.empty()) {
    CompareWithFiniteDifferences(problem, x, &Point::theta, exact.d_theta, "d_theta", options);
  }
}

}  // namespace hypergrad::testing
