#include "estimators/neumann.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "estimators/implicit_function.h"

namespace hypergrad {

NeumannEstimator::NeumannEstimator(std::size_t terms) : terms_(terms) {
  if (terms > kMaxNeumannTerms) {
    throw std::invalid_argument("neumann: --terms must be at most " + std::to_string(kMaxNeumannTerms) +
                                ", got " + std::to_string(terms));
  }
}

EstimatedHypergradients NeumannEstimator::Estimate(const EstimatorProblem& problem,
                                                   BlockHypergradients* blocks) const {
  const ImplicitPoint point(problem);
  const std::size_t p = problem.num_params();
  const SgdSchedule& s = problem.schedule;
  std::vector<double> a(p);
  for (std::size_t k = 0; k < p; ++k) a[k] = s.Alpha(s.iters - 1, problem.blocks.block_of[k]);
  // term_0 = A g; term_{j+1} = term_j − A H term_j; q = Σ_j term_j.
  std::vector<double> term(p), q(p), hv(p);
  for (std::size_t k = 0; k < p; ++k) term[k] = q[k] = a[k] * point.meta_gradient()[k];
  for (std::size_t j = 0; j < terms_; ++j) {
    point.HessianTimes(term, hv);
    for (std::size_t k = 0; k < p; ++k) {
      term[k] -= a[k] * hv[k];
      q[k] += term[k];
    }
  }
  EstimatedHypergradients out = point.Finish(q);
  if (blocks != nullptr) *blocks = {};
  return out;
}

}  // namespace hypergrad
