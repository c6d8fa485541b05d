#include "meta/hyperparams.h"

#include <cmath>
#include <stdexcept>

namespace hypergrad {
namespace {

void CheckSameSize(std::span<const double> a, std::span<const double> b, const char* what) {
  if (a.size() != b.size()) {
    throw std::invalid_argument(std::string(what) + ": sizes " + std::to_string(a.size()) +
                                " and " + std::to_string(b.size()) + " differ");
  }
}

}  // namespace

double Logistic(double u) { return 1.0 / (1.0 + std::exp(-u)); }
double Logit(double p) { return std::log(p / (1.0 - p)); }

std::vector<double> Exp(std::span<const double> log_values) {
  std::vector<double> out(log_values.size());
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = std::exp(log_values[i]);
  return out;
}

std::vector<double> LogisticOf(std::span<const double> u) {
  std::vector<double> out(u.size());
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = Logistic(u[i]);
  return out;
}

std::vector<double> ExpChainRule(std::span<const double> x, std::span<const double> d_x) {
  CheckSameSize(x, d_x, "ExpChainRule");
  std::vector<double> out(x.size());
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = x[i] * d_x[i];
  return out;
}

std::vector<double> LogisticChainRule(std::span<const double> gamma,
                                      std::span<const double> d_gamma) {
  CheckSameSize(gamma, d_gamma, "LogisticChainRule");
  std::vector<double> out(gamma.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = gamma[i] * (1.0 - gamma[i]) * d_gamma[i];
  }
  return out;
}

std::vector<double> ScaledInitialWeights(const ParameterBlocks& blocks,
                                         std::span<const double> log_scales,
                                         std::span<const double> epsilon) {
  if (log_scales.size() != blocks.num_blocks() || epsilon.size() != blocks.num_params()) {
    throw std::invalid_argument("ScaledInitialWeights: need one log scale per block and one "
                                "epsilon per parameter");
  }
  const std::vector<double> scales = Exp(log_scales);
  std::vector<double> w0(epsilon.size());
  for (std::size_t k = 0; k < w0.size(); ++k) w0[k] = scales[blocks.block_of[k]] * epsilon[k];
  return w0;
}

std::vector<double> InitScaleChainRule(const ParameterBlocks& blocks, std::span<const double> w0,
                                       std::span<const double> d_w0) {
  CheckSameSize(w0, d_w0, "InitScaleChainRule");
  std::vector<double> products(w0.size()), out(blocks.num_blocks(), 0.0);
  for (std::size_t k = 0; k < w0.size(); ++k) products[k] = d_w0[k] * w0[k];
  blocks.AccumulateSum(products, out);
  return out;
}

SgdScheduleHyperparameters SgdScheduleHyperparameters::Constant(std::size_t iters,
                                                                std::size_t blocks,
                                                                double log_alpha, double gamma,
                                                                double log_init_scale) {
  SgdScheduleHyperparameters h;
  h.iters = iters;
  h.blocks = blocks;
  h.log_alpha.assign(iters * blocks, log_alpha);
  h.logit_gamma.assign(iters * blocks, Logit(gamma));
  h.log_init_scale.assign(blocks, log_init_scale);
  return h;
}

SgdSchedule SgdScheduleHyperparameters::ToSchedule() const {
  return {iters, blocks, Exp(log_alpha), LogisticOf(logit_gamma)};
}

std::vector<double> SgdScheduleHyperparameters::Flatten() const {
  std::vector<double> flat = log_alpha;
  flat.insert(flat.end(), logit_gamma.begin(), logit_gamma.end());
  flat.insert(flat.end(), log_init_scale.begin(), log_init_scale.end());
  return flat;
}

SgdScheduleHyperparameters SgdScheduleHyperparameters::Unflatten(std::size_t iters,
                                                                 std::size_t blocks,
                                                                 std::span<const double> flat) {
  const std::size_t tb = iters * blocks;
  if (flat.size() != 2 * tb + blocks) {
    throw std::invalid_argument("SgdScheduleHyperparameters: " + std::to_string(flat.size()) +
                                " values for " + std::to_string(iters) + " iterations and " +
                                std::to_string(blocks) + " blocks (expected " +
                                std::to_string(2 * tb + blocks) + ")");
  }
  SgdScheduleHyperparameters h;
  h.iters = iters;
  h.blocks = blocks;
  h.log_alpha.assign(flat.begin(), flat.begin() + static_cast<std::ptrdiff_t>(tb));
  h.logit_gamma.assign(flat.begin() + static_cast<std::ptrdiff_t>(tb),
                       flat.begin() + static_cast<std::ptrdiff_t>(2 * tb));
  h.log_init_scale.assign(flat.begin() + static_cast<std::ptrdiff_t>(2 * tb), flat.end());
  return h;
}

std::vector<double> SgdScheduleHyperparameters::FlatGradient(const Hypergradients& h,
                                                             const ParameterBlocks& partition,
                                                             std::span<const double> w0) const {
  const SgdSchedule schedule = ToSchedule();
  std::vector<double> flat = ExpChainRule(schedule.alpha, h.d_alpha);
  const std::vector<double> d_gamma = LogisticChainRule(schedule.gamma, h.schedule("gamma"));
  const std::vector<double> d_scale = InitScaleChainRule(partition, w0, h.d_w0);
  flat.insert(flat.end(), d_gamma.begin(), d_gamma.end());
  flat.insert(flat.end(), d_scale.begin(), d_scale.end());
  return flat;
}

}  // namespace hypergrad
