#include "estimators/perturbation.h"

#include <algorithm>
#include <cmath>

namespace hypergrad {

PerturbationSpace::PerturbationSpace(const EstimatorProblem& problem) : problem_(problem) {
  const SgdSchedule& s = problem.schedule;
  ab_ = s.iters * s.blocks;
  p_ = problem.num_params();
  perturbs_theta_ = static_cast<bool>(problem.make_model) && !problem.theta.empty();
  scale_.resize(2 * ab_ + p_ + (perturbs_theta_ ? problem.theta.size() : 0));
  for (std::size_t i = 0; i < ab_; ++i) {
    scale_[i] = std::abs(s.alpha[i]) > 0 ? std::abs(s.alpha[i]) : 1.0;
    scale_[ab_ + i] = std::min(s.gamma[i], 1.0 - s.gamma[i]);
    if (!(scale_[ab_ + i] > 0)) scale_[ab_ + i] = 1e-3;
  }
  std::vector<double> sum_sq(s.blocks, 0.0), count(s.blocks, 0.0);
  for (std::size_t k = 0; k < p_; ++k) {
    sum_sq[problem.blocks.block_of[k]] += problem.w0[k] * problem.w0[k];
    count[problem.blocks.block_of[k]] += 1.0;
  }
  for (std::size_t k = 0; k < p_; ++k) {
    const std::size_t j = problem.blocks.block_of[k];
    const double rms = std::sqrt(sum_sq[j] / count[j]);
    scale_[2 * ab_ + k] = rms > 0 ? rms : 1.0;
  }
  if (perturbs_theta_) {
    // max(|θ_i|, RMS of θ): entries near 0 (e.g. learned pixels) get the vector's typical size,
    // not a scale that would divide the estimate by ~0.
    double theta_sq = 0.0;
    for (double t : problem.theta) theta_sq += t * t;
    const double rms = std::sqrt(theta_sq / static_cast<double>(problem.theta.size()));
    for (std::size_t i = 0; i < problem.theta.size(); ++i) {
      const double a = std::max(std::abs(problem.theta[i]), rms);
      scale_[theta_offset() + i] = a > 0 ? a : 1.0;
    }
  }
}

namespace {
SgdSchedule PerturbedScheduleImpl(const SgdSchedule& s, std::span<const double> scale,
                               std::span<const double> eps, double sign, double sigma,
                               std::size_t ab) {
  SgdSchedule out = s;
  for (std::size_t i = 0; i < ab; ++i) {
    out.alpha[i] += sign * sigma * scale[i] * eps[i];
    const double g = s.gamma[i] + sign * sigma * scale[ab + i] * eps[ab + i];
    // Keep γ a valid decay (the perturbation is small; clipping only guards the tails).
    out.gamma[i] = std::clamp(g, 1e-6, 1.0 - 1e-6);
  }
  return out;
}
}  // namespace

SgdSchedule PerturbationSpace::PerturbedSchedule(std::span<const double> eps, double sign,
                                              double sigma) const {
  return PerturbedScheduleImpl(problem_.schedule, scale_, eps, sign, sigma, ab_);
}

std::vector<double> PerturbationSpace::PerturbedW0(std::span<const double> eps, double sign,
                                                   double sigma) const {
  std::vector<double> w0 = problem_.w0;
  for (std::size_t k = 0; k < p_; ++k) w0[k] += sign * sigma * scale_[2 * ab_ + k] * eps[2 * ab_ + k];
  return w0;
}

std::shared_ptr<const Model> PerturbationSpace::PerturbedModel(std::span<const double> eps,
                                                               double sign, double sigma) const {
  if (!perturbs_theta_) return problem_.model;
  std::vector<double> theta = problem_.theta;
  for (std::size_t i = 0; i < theta.size(); ++i) {
    theta[i] += sign * sigma * scale_[theta_offset() + i] * eps[theta_offset() + i];
  }
  return problem_.make_model(theta);
}

EstimatedHypergradients PerturbationSpace::ToEstimate(std::span<const double> sum,
                                                      std::size_t pairs, double sigma) const {
  std::vector<double> g(size());
  for (std::size_t i = 0; i < size(); ++i) {
    g[i] = sum[i] / (2.0 * static_cast<double>(pairs) * sigma * scale_[i]);
  }
  EstimatedHypergradients out;
  out.d_alpha.assign(g.begin(), g.begin() + ab_);
  out.d_gamma.assign(g.begin() + ab_, g.begin() + 2 * ab_);
  out.d_w0.assign(g.begin() + 2 * ab_, g.begin() + 2 * ab_ + p_);
  if (perturbs_theta_) out.d_theta.assign(g.begin() + theta_offset(), g.end());
  out.applicable = {true, true, true, false, perturbs_theta_};
  return out;
}

}  // namespace hypergrad
