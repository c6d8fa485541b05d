// What the implicit-function estimators (neumann.h, cg.h) share. If w_T minimises the training
// loss L(w, θ), then dw*/dθ = −H⁻¹ ∂²L/∂w∂θ (H = ∇²_w L) and
//   df/dθ = ∂f/∂θ − ∇_θ⟨∇_w L(w_T, θ), q⟩  with  H q = ∇_w f(w_T)
// (Pedregosa, ICML 2016; Lorraine, Vicol & Duvenaud, AISTATS 2020). The estimators differ in how
// they approximate q. The training loss is taken on the rows of the last min(T, 10) minibatches
// together (one fixed operator, so that CG sees a symmetric matrix).
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
  // out = H u on the union batch.
  void HessianTimes(std::span<const double> u, std::span<double> out) const;
  // The estimate for a solution q of H q = ∇_w f: d_theta = ∂f/∂θ − ∇_θ⟨∇_w L, q⟩, every
  // other kind not applicable.
  EstimatedHypergradients Finish(std::span<const double> q) const;

 private:
  const EstimatorProblem& problem_;
  std::vector<double> w_, v_, d_w_, d_theta_direct_;  // w_T, v_T of the float64 run, ∂f/∂w_T, ∂f/∂θ direct
  double f_ = 0.0;                                    // f(w_T, θ)
  Batch batch_;
};

}  // namespace hypergrad

#endif  // HYPERGRAD_ESTIMATORS_IMPLICIT_FUNCTION_H_
