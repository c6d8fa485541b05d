#include "estimators/exact.h"

#include <vector>

namespace hypergrad {

EstimatedHypergradients ReverseFixedPointRun(const EstimatorProblem& problem,
                                             const TrainingOptions& options, std::size_t first_step,
                                             BlockHypergradients* blocks) {
  ReversibleSgd sgd({problem.model, problem.blocks, problem.schedule, problem.batches}, options);
  sgd.Train(problem.w0, problem.v0);
  std::vector<double> d_w(problem.num_params());
  std::vector<double> d_theta(problem.model->num_hyper());
  FinalState trained{{sgd.weights().begin(), sgd.weights().end()},
                     {sgd.velocity().begin(), sgd.velocity().end()},
                     problem.objective(sgd.weights(), d_w, d_theta), "fixed point"};
  EstimatedHypergradients out = FromExact(sgd.Reverse(d_w, d_theta, ReverseOptions{first_step}));
  out.final_state = std::move(trained);
  out.diagnostics["information_bits"] = sgd.information_bits_after_train();
  out.diagnostics["trajectory_peak_bytes"] = static_cast<double>(sgd.peak_extra_bytes());
  if (blocks != nullptr) *blocks = ReduceToBlocks(out, problem);
  return out;
}

EstimatedHypergradients ExactEstimator::Estimate(const EstimatorProblem& problem,
                                                 BlockHypergradients* blocks) const {
  problem.Validate();
  return ReverseFixedPointRun(problem, options_, 0, blocks);
}

}  // namespace hypergrad
