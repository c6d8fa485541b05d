// One reusable check for hypergradients (in the spirit of Stan Math's expect_ad), for either
// optimizer: for a small training problem it compares the reversible method's hypergradients
//   * with the stored-trajectory, √T-checkpointed and Revolve reverse passes, bit for bit, for
//     both information buffers, and checks that the reverse pass recovered (w_0, v_0) exactly;
//   * with central finite differences of the whole training run, for every entry of
//     ∂f/∂w_0, ∂f/∂v_0, ∂f/∂α, ∂f/∂γ and ∂f/∂θ.
// Each hypergradient test is then a few lines: build a HypergradProblem and call the checker.
#ifndef HYPERGRAD_TESTS_SUPPORT_HYPERGRAD_CHECKER_H_
#define HYPERGRAD_TESTS_SUPPORT_HYPERGRAD_CHECKER_H_

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "reversible_adam.h"
#include "reversible_sgd.h"

namespace hypergrad::testing {

struct HypergradProblem {
  // The training loss for hyperparameters θ (ignored when θ is empty).
  std::function<std::shared_ptr<const Model>(std::span<const double> theta)> make_model;
  std::vector<double> theta;
  ParameterBlocks blocks;
  Schedule schedule;
  BatchSchedule batches;
  std::vector<double> w0, v0;
  // f(w_T, θ); writes ∂f/∂w_T into d_w and ∂f/∂θ into d_theta (size of θ).
  std::function<double(std::span<const double> w, std::span<const double> theta,
                       std::span<double> d_w, std::span<double> d_theta)>
      objective;
};

// Finite differences are taken on float64 training runs with the floating-point γ, which is
// what the reverse formulas differentiate; the fixed-point run applies n/d instead (larger than
// γ by up to 2^-16) and quantises, so the two differ by about T·1.5e-5 relative. With central
// differences of step 1e-4 (truncation ~1e-8) a relative tolerance of 1e-3 (the authors' own,
// with their step 1e-2) covers that mismatch with a wide margin; the absolute part is relative
// to the largest entry of the same kind, since entries that should be zero come out ~1e-12.
struct FiniteDifferenceOptions {
  double step = 1e-4;
  double rtol = 1e-3;
  double atol_fraction_of_max = 1e-4;
};

void ExpectHypergradMatchesFiniteDifferences(const HypergradProblem& problem,
                                             const FiniteDifferenceOptions& options = {});

// Every hypergradient of a equals b's bit for bit (`what` names the comparison on failure).
void ExpectAllBitwiseEqual(const Hypergradients& a, const Hypergradients& b,
                           const std::string& what);

// The hypergradients of `problem` trained and reversed with `options`.
Hypergradients ComputeHypergradients(const HypergradProblem& problem, const SgdOptions& options);

// The same checks for Adam (reversible_adam.h): reversible vs stored, √T and Revolve bit for
// bit with both buffers, and central differences of the whole float64 Adam run for ∂f/∂w_0,
// ∂f/∂α, ∂f/∂β1, ∂f/∂β2, ∂f/∂ε and ∂f/∂θ (the differences step ε by options.step·ε, so any
// ε > 0 works). Training starts from m_0 = s_0 = 0.
struct AdamHypergradProblem {
  std::function<std::shared_ptr<const Model>(std::span<const double> theta)> make_model;
  std::vector<double> theta;
  ParameterBlocks blocks;
  AdamSchedule schedule;
  BatchSchedule batches;
  std::vector<double> w0;
  std::function<double(std::span<const double> w, std::span<const double> theta,
                       std::span<double> d_w, std::span<double> d_theta)>
      objective;
};

void ExpectAdamHypergradMatchesFiniteDifferences(const AdamHypergradProblem& problem,
                                                 const FiniteDifferenceOptions& options = {});
// Only the first part: every strategy and both buffers bit for bit, w_0 and the moments
// recovered exactly. Returns the exact buffer's reversible hypergradients. (For ε = 1e-8 with
// tiny gradients, where the step g/(|g| + ε) bends within 1e-8 of g = 0 and central differences
// of step 1e-4 do not resolve it; reversible_adam_test compares such runs with an independent
// float64 reverse mode instead.)
AdamHypergradients ExpectAdamStrategiesAgree(const AdamHypergradProblem& problem);
void ExpectAllBitwiseEqual(const AdamHypergradients& a, const AdamHypergradients& b,
                           const std::string& what);
AdamHypergradients ComputeHypergradients(const AdamHypergradProblem& problem,
                                         const TrainingOptions& options);

}  // namespace hypergrad::testing

#endif  // HYPERGRAD_TESTS_SUPPORT_HYPERGRAD_CHECKER_H_
