// `cg` (K iterations): the implicit-function hypergradient (implicit_function.h) with
// H q = ∇_w f(w_T) solved by K conjugate-gradient iterations from q = 0 (Pedregosa, ICML 2016;
// Rajeswaran et al. 2019), stopping early when the residual falls below 1e-12 of ‖∇_w f‖.
//   Approximates: df/dθ for θ inside the training loss, assuming w_T minimises it.
//   Memory: O(P) (four vectors); time: one float64 training run plus K HVPs on ≤ 10 minibatches.
//   Bias: (1) w_T is not a minimiser after a finite run; (2) CG assumes H positive definite:
//     with negative curvature (non-convex networks) it may step along it and the error can
//     grow with K; (3) the Hessian of ≤ 10 minibatches stands for the training loss's.
#ifndef HYPERGRAD_ESTIMATORS_CG_H_
#define HYPERGRAD_ESTIMATORS_CG_H_

#include "estimators/estimator.h"

namespace hypergrad {

class CgEstimator final : public Estimator {
 public:
  explicit CgEstimator(std::size_t iterations) : iterations_(iterations) {}
  std::string name() const override { return "cg"; }
  std::string settings() const override { return "cg terms=" + std::to_string(iterations_); }
  EstimatedHypergradients Estimate(const EstimatorProblem& problem,
                                   BlockHypergradients* blocks = nullptr) const override;

 private:
  std::size_t iterations_;
};

}  // namespace hypergrad

#endif  // HYPERGRAD_ESTIMATORS_CG_H_
