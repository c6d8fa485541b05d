// `truncated` (K): K-step truncated backpropagation (Williams & Peng 1990; analysed for
// hyperparameters by Shaban et al., AISTATS 2019). The exact fixed-point run is trained for all T
// steps; the reverse recursion then runs over the last K steps only, t = T−1 … T−K
// (ReverseOptions::first_step = T − K), so rows t ≥ T−K of ∂f/∂α and ∂f/∂γ are the exact
// estimator's bits and earlier rows are 0; ∂f/∂w_0 and ∂f/∂v_0 are 0 when K < T; ∂f/∂θ keeps the
// direct term and the last K steps' mixed terms. K = T gives the exact estimator's bits.
//   Approximates: the hypergradient with every path through steps before T−K cut.
//   Memory: as implemented here, the reversible run's information buffer for all T steps (the
//     forward pass of Algorithm 3 needs it to produce the exact trajectory; the reverse pass
//     stops after K steps). Truncated backpropagation in float64 instead stores the last K
//     states: K·2P doubles.
//   Time: one training run plus K reverse steps (each a gradient and a Hessian-vector product).
//   Bias: drops long-range effects; for learning rates it favours short-horizon greediness
//     (Wu et al., ICLR 2018); the initial state gets no signal for K < T.
#ifndef HYPERGRAD_ESTIMATORS_TRUNCATED_H_
#define HYPERGRAD_ESTIMATORS_TRUNCATED_H_

#include "estimators/estimator.h"

namespace hypergrad {

// The longest truncation accepted (registry.h): the tools' longest run (--iters ≤ 10^6).
inline constexpr std::size_t kMaxTruncation = 1000000;

class TruncatedEstimator final : public Estimator {
 public:
  // `truncation` = K ≥ 0 reverse steps (K = 0: every hypergradient but θ's direct term is 0).
  explicit TruncatedEstimator(std::size_t truncation, TrainingOptions options = {})
      : truncation_(truncation), options_(std::move(options)) {}
  std::string name() const override { return "truncated"; }
  std::string settings() const override;
  // Throws std::invalid_argument when K > T ("--truncation 200 exceeds the run's T = 100"),
  // and what ReversibleSgd throws (FixedPointOverflow for a diverged run).
  EstimatedHypergradients Estimate(const EstimatorProblem& problem,
                                   BlockHypergradients* blocks = nullptr) const override;

 private:
  std::size_t truncation_;
  TrainingOptions options_;
};

}  // namespace hypergrad

#endif  // HYPERGRAD_ESTIMATORS_TRUNCATED_H_
