// `neumann` (K terms): the implicit-function hypergradient (implicit_function.h) with H⁻¹
// replaced by the truncated Neumann series of Lorraine, Vicol & Duvenaud (AISTATS 2020,
// Algorithm 3), preconditioned by the last step's learning rates A = diag(α_{T−1}[block]):
//   q = Σ_{j=0}^{K} (I − A H)^j A ∇_w f(w_T)
// (K Hessian-vector products; K = 0 gives A ∇_w f).
//   Approximates: df/dθ for θ inside the training loss, assuming w_T minimises it.
//   Memory: O(P) plus one minibatch's model workspace (implicit_function.h); time: one float64
//     training run plus K HVPs on ≤ 10 minibatches each.
//   Bias: (1) w_T is not a minimiser after a finite run (the larger the gradient at w_T, the
//     larger the error); (2) the series converges only if the spectral radius of I − A H is
//     below 1 (positive definite H, α λ_max < 2); truncation leaves the tail
//     (I − A H)^{K+1}: directions of small curvature are under-weighted; (3) the Hessian of ≤ 10
//     minibatches stands for the training loss's.
#ifndef HYPERGRAD_ESTIMATORS_NEUMANN_H_
#define HYPERGRAD_ESTIMATORS_NEUMANN_H_

#include "estimators/estimator.h"

namespace hypergrad {

// The most terms neumann accepts (registry.h): each is an HVP; 100,000 are hours for the Fig-2
// network.
inline constexpr std::size_t kMaxNeumannTerms = 100000;

class NeumannEstimator final : public Estimator {
 public:
  // terms ≤ kMaxNeumannTerms (std::invalid_argument otherwise).
  explicit NeumannEstimator(std::size_t terms);
  std::string name() const override { return "neumann"; }
  std::string settings() const override { return "neumann terms=" + std::to_string(terms_); }
  EstimatedHypergradients Estimate(const EstimatorProblem& problem,
                                   BlockHypergradients* blocks = nullptr) const override;

 private:
  std::size_t terms_;
};

}  // namespace hypergrad

#endif  // HYPERGRAD_ESTIMATORS_NEUMANN_H_
