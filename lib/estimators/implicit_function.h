// What the implicit-function estimators (neumann.h, cg.h) share. If w_T minimises the training
// loss L(w, θ), then dw*/dθ = −H⁻¹ ∂²L/∂w∂θ (H = ∇²_w L) and
//   df/dθ = ∂f/∂θ − ∇_θ⟨∇_w L(w_T, θ), q⟩  with  H q = ∇_w f(w_T)
// (Pedregosa, ICML 2016; Lorraine, Vicol & Duvenaud, AISTATS 2020). The estimators differ in how
// they approximate q. The training loss's Hessian is that of the last M = min(T, 10)
// minibatches together, H = Σ_b (n_b/N) ∇²_w L(w_T; batch_b) (n_b rows of batch b, N = Σ n_b):
// one fixed operator, so that CG sees a symmetric matrix; for a loss that is the mean over its
// batch's rows plus a penalty (the MLP, mlp.h) it is the Hessian of the loss on the M batches'
// rows as one batch. It is applied one minibatch at a time, so the model's workspace is one
// minibatch's (the MLP gathers its batch's inputs as float64: n_b·784·8 bytes, 1.25 MB for 200
// MNIST rows, against 12.5 MB for 2,000 rows at once); ∇_θ⟨∇_w L, q⟩ the same way.
// α, γ, w_0 and v_0 do not enter the stationarity condition: the implicit estimate gives no
// signal for them (marked not applicable).
#ifndef HYPERGRAD_ESTIMATORS_IMPLICIT_FUNCTION_H_
#define HYPERGRAD_ESTIMATORS_IMPLICIT_FUNCTION_H_

#include <vector>

#include "estimators/estimator.h"

namespace hypergrad {

class ImplicitPoint {
 public:
  // Trains the float64 run to w_T and evaluates ∇_w f and ∂f/∂θ there. Throws
  // std::invalid_argument if the model has no θ (the implicit method has nothing to estimate).
  explicit ImplicitPoint(const EstimatorProblem& problem);

  const std::vector<double>& weights() const { return w_; }
  // ∇_w f(w_T).
  const std::vector<double>& meta_gradient() const { return d_w_; }
  // out = H u (the weighted sum over the last M minibatches above).
  void HessianTimes(std::span<const double> u, std::span<double> out) const;
  // The estimate for a solution q of H q = ∇_w f: d_theta = ∂f/∂θ − ∇_θ⟨∇_w L, q⟩, every
  // other kind not applicable.
  EstimatedHypergradients Finish(std::span<const double> q) const;

 private:
  const EstimatorProblem& problem_;
  std::vector<double> w_, v_, d_w_, d_theta_direct_;  // w_T, v_T of the float64 run, ∂f/∂w_T, ∂f/∂θ direct
  double f_ = 0.0;                                    // f(w_T, θ)
  std::vector<Batch> batches_;                        // the last M minibatches
  std::vector<double> weights_;                       // n_b / N each
};

}  // namespace hypergrad

#endif  // HYPERGRAD_ESTIMATORS_IMPLICIT_FUNCTION_H_
