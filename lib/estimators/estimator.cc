#include "estimators/estimator.h"

#include <stdexcept>
#include <utility>

namespace hypergrad {

void EstimatorProblem::Validate() const {
  if (!model) throw std::invalid_argument("estimator problem: no model");
  if (!objective) throw std::invalid_argument("estimator problem: no meta-objective");
  if (!batches) throw std::invalid_argument("estimator problem: no batch schedule");
  blocks.Validate();
  const std::size_t p = model->num_params();
  if (blocks.num_params() != p) {
    throw std::invalid_argument("estimator problem: the blocks cover " +
                                std::to_string(blocks.num_params()) + " parameters, the model has " +
                                std::to_string(p));
  }
  schedule.Validate();
  if (schedule.blocks != blocks.num_blocks()) {
    throw std::invalid_argument("estimator problem: the schedule has " +
                                std::to_string(schedule.blocks) + " blocks, the partition " +
                                std::to_string(blocks.num_blocks()));
  }
  if (w0.size() != p || v0.size() != p) {
    throw std::invalid_argument("estimator problem: w0 and v0 need " + std::to_string(p) +
                                " values, got " + std::to_string(w0.size()) + " and " +
                                std::to_string(v0.size()));
  }
  if (!theta.empty() && theta.size() != model->num_hyper()) {
    throw std::invalid_argument("estimator problem: theta has " + std::to_string(theta.size()) +
                                " values, the model " + std::to_string(model->num_hyper()));
  }
}

const char* HyperKindName(HyperKind kind) {
  switch (kind) {
    case HyperKind::kAlpha: return "alpha";
    case HyperKind::kGamma: return "gamma";
    case HyperKind::kW0: return "w0";
    case HyperKind::kV0: return "v0";
    case HyperKind::kTheta: return "theta";
  }
  return "?";
}

const std::vector<double>& EstimatedHypergradients::Of(HyperKind k) const {
  switch (k) {
    case HyperKind::kAlpha: return d_alpha;
    case HyperKind::kGamma: return d_gamma;
    case HyperKind::kW0: return d_w0;
    case HyperKind::kV0: return d_v0;
    case HyperKind::kTheta: return d_theta;
  }
  throw std::logic_error("unknown hyperparameter kind");
}

std::vector<double>& EstimatedHypergradients::Of(HyperKind k) {
  return const_cast<std::vector<double>&>(std::as_const(*this).Of(k));
}

BlockHypergradients ReduceToBlocks(const EstimatedHypergradients& h, const EstimatorProblem& p) {
  const std::size_t t_max = p.schedule.iters, b = p.schedule.blocks;
  BlockHypergradients out;
  auto sum_rows = [&](const std::vector<double>& x) {
    std::vector<double> s(b, 0.0);
    for (std::size_t t = 0; t < t_max; ++t) {
      for (std::size_t j = 0; j < b; ++j) s[j] += x[t * b + j];
    }
    return s;
  };
  if (h.Applicable(HyperKind::kAlpha)) out.d_alpha_block = sum_rows(h.d_alpha);
  if (h.Applicable(HyperKind::kGamma)) out.d_gamma_block = sum_rows(h.d_gamma);
  if (h.Applicable(HyperKind::kW0)) {
    // ∂f/∂(log s_j) = Σ_{k∈j} ∂f/∂w_0[k]·w_0[k] (w_0 = e^{log s_j}·ε).
    out.d_log_init_scale.assign(b, 0.0);
    for (std::size_t k = 0; k < p.w0.size(); ++k) {
      out.d_log_init_scale[p.blocks.block_of[k]] += h.d_w0[k] * p.w0[k];
    }
  }
  return out;
}

EstimatedHypergradients FromExact(const Hypergradients& h) {
  EstimatedHypergradients e;
  e.d_alpha = h.d_alpha;
  e.d_gamma = h.schedule("gamma");
  e.d_w0 = h.d_w0;
  e.d_v0 = h.moment("v");
  e.d_theta = h.d_theta;
  e.applicable = {true, true, true, true, !h.d_theta.empty()};
  return e;
}

}  // namespace hypergrad
