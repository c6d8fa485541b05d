// `greedy` (horizon 1): for each step t, the derivative of the meta-objective one step later,
// ∂f(w_{t+1})/∂α_t and ∂f(w_{t+1})/∂γ_t, as hypergradient descent (Baydin et al., ICLR 2018)
// and Luketina, Berglund, Greff & Raiko (ICML 2016) use it. On the float64 run, with
// v_{t+1} = γ_t v_t − (1−γ_t) g_t and w_{t+1} = w_t + α_t v_{t+1}:
//   dα_t[j] = Σ_{k∈j} ∇f(w_{t+1})_k v_{t+1,k};  dγ_t[j] = Σ_{k∈j} ∇f(w_{t+1})_k α_t (v_t + g_t)_k.
// w_0, v_0 and θ: not applicable.
//   Approximates: ∂f(w_T)/∂α_t by the effect of α_t on the next step alone.
//   Memory: O(P); time: one training run plus T meta-objective gradients (for the Fig-2
//     network's 10,000-image objective, ≈ 50 batch gradients each).
//   Bias: ignores how a step's change propagates through the T−t−1 later steps — the
//     short-horizon bias (Wu, Ren, Liao & Grosse, ICLR 2018): it favours rates that lower the
//     loss now, typically too small ones.
#ifndef HYPERGRAD_ESTIMATORS_GREEDY_H_
#define HYPERGRAD_ESTIMATORS_GREEDY_H_

#include "estimators/estimator.h"

namespace hypergrad {

class GreedyEstimator final : public Estimator {
 public:
  std::string name() const override { return "greedy"; }
  EstimatedHypergradients Estimate(const EstimatorProblem& problem,
                                   BlockHypergradients* blocks = nullptr) const override;
};

}  // namespace hypergrad

#endif  // HYPERGRAD_ESTIMATORS_GREEDY_H_
