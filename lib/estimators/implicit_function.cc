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
  double rows = 0.0;
  for (std::size_t t = iters - std::min<std::size_t>(iters, 10); t < iters; ++t) {
    batches_.push_back(problem.batches(t));
    rows += static_cast<double>(batches_.back().rows.size());
  }
  for (const Batch& b : batches_) weights_.push_back(static_cast<double>(b.rows.size()) / rows);
}

void ImplicitPoint::HessianTimes(std::span<const double> u, std::span<double> out) const {
  const std::size_t p = w_.size();
  std::vector<double> grad(p), hvp(p);
  std::fill(out.begin(), out.end(), 0.0);
  for (std::size_t b = 0; b < batches_.size(); ++b) {
    problem_.model->GradientAndHvp(w_, batches_[b], u, grad, hvp, {});
    for (std::size_t k = 0; k < p; ++k) out[k] += weights_[b] * hvp[k];
  }
}

EstimatedHypergradients ImplicitPoint::Finish(std::span<const double> q) const {
  const std::size_t h = problem_.model->num_hyper();
  std::vector<double> grad(w_.size()), hvp(w_.size()), mixed(h);
  EstimatedHypergradients out;
  out.d_theta = d_theta_direct_;
  for (std::size_t b = 0; b < batches_.size(); ++b) {
    problem_.model->GradientAndHvp(w_, batches_[b], q, grad, hvp, mixed);
    for (std::size_t i = 0; i < h; ++i) out.d_theta[i] -= weights_[b] * mixed[i];
  }
  out.applicable = {false, false, false, false, true};
  out.final_state = {w_, v_, f_, "float64"};
  return out;
}

}  // namespace hypergrad
