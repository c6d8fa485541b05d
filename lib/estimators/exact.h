// `exact`: the paper's reversible reverse pass (Algorithm 2 with Algorithm 3's exact momentum,
// reversible_sgd.h) — the ground truth the approximations are measured against. Stored
// trajectories, √T checkpointing and Revolve give the same bits (TrainingOptions::method).
//   Approximates: nothing — it is the exact derivative of the fixed-point training run, which
//     differs from the float64 run by ~1e-11 per step (estimator.h).
//   Memory: O(P) plus the information buffer, ~T·P·(bits per step)/8 bytes with the fast
//     buffer (about 1.9 bits per parameter per step for γ = 0.9); time ≈ 3 training runs
//     (train, then a reverse step costs a gradient and an HVP).
//   Bias: none.
#ifndef HYPERGRAD_ESTIMATORS_EXACT_H_
#define HYPERGRAD_ESTIMATORS_EXACT_H_

#include "estimators/estimator.h"

namespace hypergrad {

// Trains the fixed-point run of `problem` with `options` and reverses it from step T−1 down to
// `first_step` (≤ T; ReverseOptions): the exact estimator (first_step 0) and the truncated one
// (first_step T − K). Fills `blocks` when non-null. Throws what ReversibleSgd throws.
EstimatedHypergradients ReverseFixedPointRun(const EstimatorProblem& problem,
                                             const TrainingOptions& options, std::size_t first_step,
                                             BlockHypergradients* blocks);

class ExactEstimator final : public Estimator {
 public:
  explicit ExactEstimator(TrainingOptions options = {}) : options_(std::move(options)) {}
  std::string name() const override { return "exact"; }
  // Throws what ReversibleSgd throws (FixedPointOverflow for a diverged run).
  EstimatedHypergradients Estimate(const EstimatorProblem& problem,
                                   BlockHypergradients* blocks = nullptr) const override;

 private:
  TrainingOptions options_;
};

}  // namespace hypergrad

#endif  // HYPERGRAD_ESTIMATORS_EXACT_H_
