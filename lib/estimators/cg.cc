#include "estimators/cg.h"

#include <cmath>
#include <vector>

#include "estimators/implicit_function.h"

namespace hypergrad {

namespace {
double Dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0.0;
  for (std::size_t k = 0; k < a.size(); ++k) s += a[k] * b[k];
  return s;
}
}  // namespace

EstimatedHypergradients CgEstimator::Estimate(const EstimatorProblem& problem,
                                              BlockHypergradients* blocks) const {
  const ImplicitPoint point(problem);
  const std::size_t p = problem.num_params();
  // Hestenes–Stiefel CG: r = g − H q, direction d, α = r·r / d·Hd, β = r'·r' / r·r.
  std::vector<double> q(p, 0.0), r = point.meta_gradient(), d = r, hd(p);
  double rr = Dot(r, r);
  const double stop = 1e-24 * rr;
  for (std::size_t i = 0; i < iterations_ && rr > stop; ++i) {
    point.HessianTimes(d, hd);
    const double dhd = Dot(d, hd);
    if (dhd == 0.0 || !std::isfinite(dhd)) break;
    const double step = rr / dhd;
    for (std::size_t k = 0; k < p; ++k) {
      q[k] += step * d[k];
      r[k] -= step * hd[k];
    }
    const double rr_next = Dot(r, r);
    const double beta = rr_next / rr;
    rr = rr_next;
    for (std::size_t k = 0; k < p; ++k) d[k] = r[k] + beta * d[k];
  }
  EstimatedHypergradients out = point.Finish(q);
  if (blocks != nullptr) *blocks = {};
  return out;
}

}  // namespace hypergrad
