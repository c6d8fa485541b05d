#include "estimators/truncated.h"

#include <stdexcept>
#include <string>

#include "estimators/exact.h"

namespace hypergrad {

std::string TruncatedEstimator::settings() const {
  return "truncated truncation=" + std::to_string(truncation_);
}

EstimatedHypergradients TruncatedEstimator::Estimate(const EstimatorProblem& problem,
                                                     BlockHypergradients* blocks) const {
  problem.Validate();
  const std::size_t iters = problem.iters();
  if (truncation_ > iters) {
    throw std::invalid_argument("estimator 'truncated': --truncation " + std::to_string(truncation_) +
                                " exceeds the run's T = " + std::to_string(iters));
  }
  return ReverseFixedPointRun(problem, options_, iters - truncation_, blocks);
}

}  // namespace hypergrad
