#include "estimators/drmad.h"

#include <vector>

#include "estimators/float_sgd.h"

namespace hypergrad {

EstimatedHypergradients DrmadEstimator::Estimate(const EstimatorProblem& problem,
                                                 BlockHypergradients* blocks) const {
  problem.Validate();
  const Model& model = *problem.model;
  const std::size_t p = problem.num_params(), iters = problem.iters(), b = problem.blocks.num_blocks();
  const SgdSchedule& s = problem.schedule;
  const auto& block_of = problem.blocks.block_of;

  std::vector<double> w_final = problem.w0, v = problem.v0;
  FloatSgdTrain(model, problem.blocks, s, problem.batches, 0, iters, w_final, v);

  EstimatedHypergradients out;
  std::vector<double> d_w(p), d_v(p, 0.0);
  const std::size_t h = model.num_hyper();
  out.d_theta.assign(h, 0.0);
  out.final_state = {w_final, v, problem.objective(w_final, d_w, out.d_theta), "float64"};
  out.d_alpha.assign(iters * b, 0.0);
  out.d_gamma.assign(iters * b, 0.0);

  // β = numpy.linspace(0.001, 0.999, T): β_t = 0.001 + t·step with step = 0.998/(T−1), the last
  // entry set to 0.999 exactly (β_0 = 0.001 when T = 1).
  auto beta = [&](std::size_t t) {
    if (iters == 1) return 0.001;
    if (t == iters - 1) return 0.999;
    return static_cast<double>(t) * ((0.999 - 0.001) / static_cast<double>(iters - 1)) + 0.001;
  };
  auto point = [&](std::size_t t, std::vector<double>& x) {
    const double bt = beta(t);
    for (std::size_t k = 0; k < p; ++k) x[k] = (1.0 - bt) * problem.w0[k] + bt * w_final[k];
  };
  std::vector<double> x(p), x_prev(p), vel(p), grad(p), hvp(p), u(p), mixed(h);
  for (std::size_t t = iters; t-- > 0;) {
    point(t, x);
    if (t == 0) {
      x_prev = problem.w0;
    } else {
      point(t - 1, x_prev);
    }
    for (std::size_t k = 0; k < p; ++k) vel[k] = (x[k] - x_prev[k]) / s.Alpha(t, block_of[k]);
    double* da = &out.d_alpha[t * b];
    for (std::size_t k = 0; k < p; ++k) da[block_of[k]] += d_w[k] * vel[k];
    for (std::size_t k = 0; k < p; ++k) d_v[k] += s.Alpha(t, block_of[k]) * d_w[k];
    for (std::size_t k = 0; k < p; ++k) u[k] = (1.0 - s.Gamma(t, block_of[k])) * d_v[k];
    model.GradientAndHvp(x, problem.batches(t), u, grad, hvp, mixed);
    double* dg = &out.d_gamma[t * b];
    for (std::size_t k = 0; k < p; ++k) dg[block_of[k]] += d_v[k] * (vel[k] + grad[k]);
    for (std::size_t k = 0; k < p; ++k) d_w[k] -= hvp[k];
    for (std::size_t i = 0; i < h; ++i) out.d_theta[i] -= mixed[i];
    for (std::size_t k = 0; k < p; ++k) d_v[k] *= s.Gamma(t, block_of[k]);
  }
  out.d_w0 = std::move(d_w);
  out.d_v0 = std::move(d_v);
  out.applicable = {true, true, true, true, h > 0};
  if (h == 0) out.d_theta.clear();
  if (blocks != nullptr) *blocks = ReduceToBlocks(out, problem);
  return out;
}

}  // namespace hypergrad
