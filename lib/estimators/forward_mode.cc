#include "estimators/forward_mode.h"

#include <vector>

#include "estimators/float_sgd.h"

namespace hypergrad {

namespace {
enum class Direction { kAlpha, kGamma, kLogScale };
struct Tangent {
  Direction kind;
  std::size_t block;
  std::vector<double> w_dot, v_dot;
};
}  // namespace

EstimatedHypergradients ForwardModeEstimator::Estimate(const EstimatorProblem& problem,
                                                       BlockHypergradients* blocks) const {
  problem.Validate();
  const Model& model = *problem.model;
  const std::size_t p = problem.num_params(), b = problem.blocks.num_blocks();
  const SgdSchedule& s = problem.schedule;
  const auto& block_of = problem.blocks.block_of;

  std::vector<Tangent> tangents;
  auto add = [&](bool on, Direction kind) {
    if (!on) return;
    for (std::size_t j = 0; j < b; ++j) {
      Tangent tan{kind, j, std::vector<double>(p, 0.0), std::vector<double>(p, 0.0)};
      if (kind == Direction::kLogScale) {
        for (std::size_t k = 0; k < p; ++k) {
          if (block_of[k] == j) tan.w_dot[k] = problem.w0[k];
        }
      }
      tangents.push_back(std::move(tan));
    }
  };
  add(options_.alpha_blocks, Direction::kAlpha);
  add(options_.gamma_blocks, Direction::kGamma);
  add(options_.log_init_scales, Direction::kLogScale);

  std::vector<double> w = problem.w0, v = problem.v0, grad(p), hvp(p), v_next(p), g_again(p), ratio(b);
  for (std::size_t t = 0; t < s.iters; ++t) {
    if (problem.progress) problem.progress(t, s.iters);
    const Batch batch = problem.batches(t);
    model.Gradient(w, batch, grad);
    AppliedMomentum(s, t, ratio);
    for (std::size_t k = 0; k < p; ++k) {
      const std::size_t j = block_of[k];
      v_next[k] = ratio[j] * v[k] - (1.0 - s.Gamma(t, j)) * grad[k];
    }
    for (Tangent& tan : tangents) {
      // ġ = H ẇ (the gradient the HVP call also returns is the bits of `grad`).
      model.GradientAndHvp(w, batch, tan.w_dot, g_again, hvp, {});
      for (std::size_t k = 0; k < p; ++k) {
        const std::size_t j = block_of[k];
        const double gamma = s.Gamma(t, j), alpha = s.Alpha(t, j);
        const bool own = j == tan.block;
        double v_dot = gamma * tan.v_dot[k] - (1.0 - gamma) * hvp[k];
        if (own && tan.kind == Direction::kGamma) v_dot += v[k] + grad[k];
        tan.v_dot[k] = v_dot;
        double w_dot = tan.w_dot[k] + alpha * v_dot;
        if (own && tan.kind == Direction::kAlpha) w_dot += v_next[k];
        tan.w_dot[k] = w_dot;
      }
    }
    for (std::size_t k = 0; k < p; ++k) {
      v[k] = v_next[k];
      w[k] += s.Alpha(t, block_of[k]) * v[k];
    }
  }
  std::vector<double> d_w(p);
  std::vector<double> d_theta(model.num_hyper());
  EstimatedHypergradients out;  // no full-shape kind: every `applicable` flag stays false
  out.final_state = {w, v, problem.objective(w, d_w, d_theta), "float64"};
  BlockHypergradients reduced;
  for (const Tangent& tan : tangents) {
    double df = 0.0;
    for (std::size_t k = 0; k < p; ++k) df += d_w[k] * tan.w_dot[k];
    std::vector<double>& target = tan.kind == Direction::kAlpha   ? reduced.d_alpha_block
                                  : tan.kind == Direction::kGamma ? reduced.d_gamma_block
                                                                  : reduced.d_log_init_scale;
    target.push_back(df);
  }
  if (blocks != nullptr) *blocks = std::move(reduced);
  return out;
}

}  // namespace hypergrad
