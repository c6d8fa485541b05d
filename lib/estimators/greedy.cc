#include "estimators/greedy.h"

#include <vector>

#include "estimators/float_sgd.h"

namespace hypergrad {

EstimatedHypergradients GreedyEstimator::Estimate(const EstimatorProblem& problem,
                                                  BlockHypergradients* blocks) const {
  problem.Validate();
  const std::size_t p = problem.num_params(), b = problem.blocks.num_blocks();
  const SgdSchedule& s = problem.schedule;
  const auto& block_of = problem.blocks.block_of;
  EstimatedHypergradients out;
  out.d_alpha.assign(s.iters * b, 0.0);
  out.d_gamma.assign(s.iters * b, 0.0);
  std::vector<double> w = problem.w0, v = problem.v0, v_old(p), grad(p), d_w(p);
  double f = 0.0;
  for (std::size_t t = 0; t < s.iters; ++t) {
    if (problem.progress) problem.progress(t, s.iters);
    v_old = v;
    FloatSgdStep(*problem.model, problem.blocks, s, t, problem.batches(t), w, v, grad);
    f = problem.objective(w, d_w, {});
    for (std::size_t k = 0; k < p; ++k) {
      const std::size_t j = block_of[k];
      out.d_alpha[t * b + j] += d_w[k] * v[k];
      out.d_gamma[t * b + j] += d_w[k] * s.Alpha(t, j) * (v_old[k] + grad[k]);
    }
  }
  out.applicable = {true, true, false, false, false};
  out.final_state = {w, v, f, "float64"};
  if (blocks != nullptr) *blocks = ReduceToBlocks(out, problem);
  return out;
}

}  // namespace hypergrad
