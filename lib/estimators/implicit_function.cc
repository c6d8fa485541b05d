#include "estimators/implicit_function.h"

#include <algorithm>
#include <stdexcept>

#include "estimators/float_sgd.h"

namespace hypergrad {

ImplicitPoint::ImplicitPoint(const EstimatorProblem& problem) : problem_(problem) {
  problem.Validate();
  if (problem.model->num_hyper() == 0) {
    throw std::invalid_argument(
        "implicit-function estimator: the training loss has no hyperparameters θ (L2 penalties, "
        "data); α, γ and w_0 give it nothing to estimate");
  }
  const std::size_t iters = problem.iters(), p = problem.num_params();
  w_ = problem.w0;
  v_ = problem.v0;
  FloatSgdTrain(*problem.model, problem.blocks, problem.schedule, problem.batches, 0, iters, w_, v_);
  d_w_.assign(p, 0.0);
  d_theta_direct_.assign(problem.model->num_hyper(), 0.0);
  f_ = problem.objective(w_, d_w_, d_theta_direct_);
  for (std::size_t t = iters - std::min<std::size_t>(iters, 10); t < iters; ++t) {
    const Batch b = problem.batches(t);
    batch_.rows.insert(batch_.rows.end(), b.rows.begin(), b.rows.end());
  }
}

void ImplicitPoint::HessianTimes(std::span<const double> u, std::span<double> out) const {
  std::vector<double> grad(w_.size());
  problem_.model->GradientAndHvp(w_, batch_, u, grad, out, {});
}

EstimatedHypergradients ImplicitPoint::Finish(std::span<const double> q) const {
  const std::size_t h = problem_.model->num_hyper();
  std::vector<double> grad(w_.size()), hvp(w_.size()), mixed(h);
  problem_.model->GradientAndHvp(w_, batch_, q, grad, hvp, mixed);
  EstimatedHypergradients out;
  out.d_theta = d_theta_direct_;
  for (std::size_t i = 0; i < h; ++i) out.d_theta[i] -= mixed[i];
  out.applicable = {false, false, false, false, true};
  out.final_state = {w_, v_, f_, "float64"};
  return out;
}

}  // namespace hypergrad
