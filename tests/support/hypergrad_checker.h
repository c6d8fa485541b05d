// The conformance test every exactly reversible optimizer passes (in the spirit of Stan Math's
// expect_ad): for a small training problem and an optimizer named in the registry
// (optimizers/registry.h) it checks
//   * the reversible reverse pass recovers (w_0, u_0) bit for bit and empties the buffer, and
//     its hypergradients equal the stored-trajectory, √T-checkpointed and Revolve passes' bit
//     for bit, for both information buffers;
//   * the exact buffer holds close to the entropy of the decays' ratios, Σ log2(d/n) per
//     parameter per step;
//   * every hypergradient (∂f/∂w_0, ∂f/∂u_0 per moment, ∂f/∂α, each schedule, each scalar,
//     ∂f/∂θ) against central differences of the float64 run of the same optimizer.
// A new optimizer is tested by one call, ExpectOptimizerConforms("name", problem), in its own
// test file (with its registration, 6 files in all: optimizers/registry.h counts them), and
// EveryOptimizerTest runs it at its registry defaults with no edit. A registry
// hyperparameter's finite-difference step stays inside its range (FiniteDifferenceOptions).
#ifndef HYPERGRAD_TESTS_SUPPORT_HYPERGRAD_CHECKER_H_
#define HYPERGRAD_TESTS_SUPPORT_HYPERGRAD_CHECKER_H_

#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "optimizers/registry.h"
#include "optimizers/reversible_adam.h"
#include "optimizers/reversible_sgd.h"

namespace hypergrad::testing {

// f(w_T, θ); writes ∂f/∂w_T into d_w and ∂f/∂θ into d_theta (size of θ).
using MetaObjective = std::function<double(std::span<const double> w, std::span<const double> theta,
                                           std::span<double> d_w, std::span<double> d_theta)>;

struct ConformanceProblem {
  // The training loss for hyperparameters θ (ignored when θ is empty).
  std::function<std::shared_ptr<const Model>(std::span<const double> theta)> make_model;
  std::vector<double> theta;
  ParameterBlocks blocks;
  BatchSchedule batches;
  std::vector<double> w0;
  std::vector<double> u0;  // K·P initial moments; empty = zeros
  OptimizerHyperparameters hyperparameters;  // "alpha", the optimizer's schedules and scalars
  MetaObjective objective;
};

// Finite differences are taken on float64 training runs with the floating-point decays, which
// is what the reverse formulas differentiate; the fixed-point run applies n/d instead (larger
// than the decay by up to 2^-16) and quantises, so the two differ by about T·1.5e-5 relative.
// With central differences of step 1e-4 (truncation ~1e-8) a relative tolerance of 1e-3 (the
// authors' own, with their step 1e-2) covers that mismatch with a wide margin; the absolute
// part is relative to the largest entry of the same kind, since entries that should be zero
// come out ~1e-12. Scalars are stepped by step × their value. A registry hyperparameter's step
// is also at most 1/100 of its value's distance to the ends of its range (FiniteDifferenceStep),
// so x ± step never leaves the range the optimizer accepts.
//
// Measured exception, RMSprop's ε: the forward run decays s and m by the ratios n/d =
// (⌊65536·ρ⌋ + 1)/65536 (rational.h: n/d exceeds ρ, μ by up to 2^-16 = 1.5e-5), while the float64
// run differenced here, and the reverse pass's adjoints, use the float ρ, μ (the convention of
// SGD's γ too, where it moves a hypergradient by ~2e-5 relative). ∂f/∂ε sums −½·q̄·q/(s + ε)
// over every step and parameter, terms of both signs that largely cancel, so the same small
// difference in the decays moves it far more: measured on MlpWithL2Penalties (seed 47, α = 0.01,
// ρ = 0.999, μ = 0.9) 0.32 % at T = 12, ε = 1e-8 (EveryOptimizerTest.ConformsAtTheRegistrys
// Defaults), and from 1e-5 to 1.6 % at T = 12 … 300, ε = 1e-8 and 1e-6. With ρ and μ set 1e-12
// below their ratios, so that both runs decay alike, the same comparisons agree to 4e-7 or
// better, the central difference's own error (RmspropConformanceTest.EpsMatchesWhenTheDecays
// AreTheirRatios). tolerance_of gives such a kind its own tolerance, by name ("d_eps").
struct FiniteDifferenceOptions {
  double step = 1e-4;
  double rtol = 1e-3;
  double atol_fraction_of_max = 1e-4;
  // A kind's own tolerance, by name: |exact − fd| ≤ tolerance × the largest |fd| of the kind
  // (instead of rtol and atol_fraction_of_max).
  std::map<std::string, double> tolerance_of;
};

// The central-difference step of a value of registry hyperparameter `flag` (nullptr: none, e.g.
// α): `step`, but at most 1/100 of the distance from `value` to the nearer end of the flag's
// range [min, max] (0 at an end).
double FiniteDifferenceStep(double value, double step, const OptimizerFlag* flag);

// The conformance test (above). Moments whose perturbed initial values the optimizer refuses
// (a second moment of 0 stepped below 0) are not differenced.
void ExpectOptimizerConforms(const std::string& optimizer, const ConformanceProblem& problem,
                             const FiniteDifferenceOptions& options = {});

// The first part of the conformance test alone: every strategy (reversible, stored, √T,
// Revolve) with both buffers gives the same bits, and w_0 and the moments come back exactly.
// Returns the exact buffer's reversible hypergradients. (For runs where central differences
// cannot resolve the step, e.g. Adam at ε = 1e-8 with tiny gradients.)
Hypergradients ExpectStrategiesAgree(const std::string& optimizer, const ConformanceProblem& problem);

// The hypergradients of `problem` trained with `optimizer` and reversed with `options`.
Hypergradients ComputeHypergradients(const std::string& optimizer,
                                     const ConformanceProblem& problem,
                                     const TrainingOptions& options);

// Every hypergradient of a equals b's bit for bit (`what` names the comparison on failure).
void ExpectAllBitwiseEqual(const Hypergradients& a, const Hypergradients& b,
                           const std::string& what);

// The SGD problems of the earlier tests (with v_0), run through the conformance test.
struct SgdHypergradProblem {
  std::function<std::shared_ptr<const Model>(std::span<const double> theta)> make_model;
  std::vector<double> theta;
  ParameterBlocks blocks;
  SgdSchedule schedule;
  BatchSchedule batches;
  std::vector<double> w0, v0;
  MetaObjective objective;
};
void ExpectSgdHypergradMatchesFiniteDifferences(const SgdHypergradProblem& problem,
                                                const FiniteDifferenceOptions& options = {});

}  // namespace hypergrad::testing

#endif  // HYPERGRAD_TESTS_SUPPORT_HYPERGRAD_CHECKER_H_
