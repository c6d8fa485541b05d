// `cg` (K iterations, tolerance R): the implicit-function hypergradient (implicit_function.h)
// with H q = ∇_w f(w_T) solved by at most K conjugate-gradient iterations from q = 0 (Pedregosa,
// ICML 2016; Rajeswaran et al. 2019), stopping as soon as the residual r = ∇_w f − H q has
// ‖r‖ ≤ R·‖∇_w f‖, or when a direction has d·Hd = 0 or non-finite (the step rr/d·Hd is
// undefined; negative d·Hd is stepped along, bias (2) below). The result's diagnostics record
// "cg_iterations" (iterations run), "cg_relative_residual" (‖r‖/‖∇_w f‖ at the end, r as the
// recurrence updates it) and "cg_negative_curvature_steps" (directions with d·Hd < 0); a residual
// above R at the end sets the result's warning.
//   Approximates: df/dθ for θ inside the training loss, assuming w_T minimises it.
//   Memory: O(P) (four vectors) plus one minibatch's model workspace (implicit_function.h);
//     time: one float64 training run plus K HVPs on ≤ 10 minibatches each.
//   Bias: (1) w_T is not a minimiser after a finite run; (2) CG assumes H positive definite:
//     with negative curvature (non-convex networks) it may step along it and the error can
//     grow with K; (3) the Hessian of ≤ 10 minibatches stands for the training loss's.
#ifndef HYPERGRAD_ESTIMATORS_CG_H_
#define HYPERGRAD_ESTIMATORS_CG_H_

#include "estimators/estimator.h"

namespace hypergrad {

// The iterations and tolerances cg accepts (registry.h): at least one iteration (0 would return
// q = 0, no estimate); 100,000 HVPs are hours for the Fig-2 network; a tolerance below 1e-16 is
// below float64 rounding of the residual, above 0.1 stops before the estimate means anything.
inline constexpr std::size_t kMaxCgIterations = 100000;
inline constexpr double kDefaultCgTolerance = 1e-12, kMinCgTolerance = 1e-16, kMaxCgTolerance = 0.1;

class CgEstimator final : public Estimator {
 public:
  // 1 ≤ iterations ≤ kMaxCgIterations, tolerance in [kMinCgTolerance, kMaxCgTolerance]
  // (std::invalid_argument otherwise).
  explicit CgEstimator(std::size_t iterations, double tolerance = kDefaultCgTolerance);
  std::string name() const override { return "cg"; }
  std::string settings() const override;
  EstimatedHypergradients Estimate(const EstimatorProblem& problem,
                                   BlockHypergradients* blocks = nullptr) const override;

 private:
  std::size_t iterations_;
  double tolerance_;
};

}  // namespace hypergrad

#endif  // HYPERGRAD_ESTIMATORS_CG_H_
