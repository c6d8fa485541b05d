#include "reversible_adam.h"

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace hypergrad {

AdamSchedule AdamSchedule::Constant(std::size_t iters, std::size_t blocks, double alpha,
                                    double beta1, double beta2, double eps) {
  const std::size_t n = iters * blocks;
  return {iters, blocks, std::vector<double>(n, alpha), std::vector<double>(n, beta1),
          std::vector<double>(n, beta2), eps};
}

void AdamSchedule::Validate() const {
  const std::size_t n = iters * blocks;
  if (alpha.size() != n || beta1.size() != n || beta2.size() != n) {
    throw std::invalid_argument("AdamSchedule: " + std::to_string(iters) + " iterations × " +
                                std::to_string(blocks) + " blocks need " + std::to_string(n) +
                                " values of alpha, beta1 and beta2");
  }
  for (std::size_t i = 0; i < n; ++i) {
    const std::string where =
        " at iteration " + std::to_string(i / blocks) + ", block " + std::to_string(i % blocks);
    if (!std::isfinite(alpha[i])) {
      throw std::invalid_argument("AdamSchedule: alpha" + where + " is not finite");
    }
    for (const auto& [name, beta] : {std::pair{"beta1", beta1[i]}, std::pair{"beta2", beta2[i]}}) {
      if (!(beta > 0.0 && beta < 1.0)) {
        throw std::invalid_argument("AdamSchedule: " + std::string(name) + where + " = " +
                                    std::to_string(beta) + " is not in (0, 1)");
      }
    }
  }
  if (!(eps >= kAdamMinEps && eps <= kAdamMaxEps)) {
    std::ostringstream out;
    out.precision(17);
    out << "AdamSchedule: eps = " << eps << " is outside [1e-12, 1]: below 1e-12 the second "
        << "moment's fixed-point grid (2^-" << kAdamMomentFormat.fraction_bits
        << ") no longer gives Adam's step to 1e-6 for small gradients";
    throw std::invalid_argument(out.str());
  }
}

namespace {

// Adam in the form of exact_optimizer.h: u = (m, s), r = (β1, β2), c = (1−β1, 1−β2),
// φ(g) = (g, g²), Δ(u) = −m̂/(√ŝ + ε). c.extra holds (c1, c2) per parameter.
class AdamRule final : public ExactOptimizer {
 public:
  AdamRule(const AdamSchedule& schedule, const std::vector<double>& beta1_products,
           const std::vector<double>& beta2_products, const ParameterBlocks& blocks)
      : schedule_(schedule), p1_(beta1_products), p2_(beta2_products), blocks_(blocks) {}

  std::string_view name() const override { return "adam"; }
  std::size_t num_moments() const override { return 2; }
  std::size_t iters() const override { return schedule_.iters; }
  FixedPointFormat MomentFormat(std::size_t) const override { return kAdamMomentFormat; }

  void Coefficients(std::size_t t, StepCoefficients& c) const override {
    const std::size_t blocks = schedule_.blocks, n = blocks_.num_params();
    c.t = t;
    const auto row = [&](const std::vector<double>& v) {
      return std::span<const double>(v.data() + t * blocks, blocks);
    };
    const auto alpha_t = row(schedule_.alpha), beta1_t = row(schedule_.beta1),
               beta2_t = row(schedule_.beta2);
    ExpandStepCoefficients(blocks_, alpha_t, {{beta1_t, 1.0}, {beta2_t, 1.0}}, c);
    // The bias corrections change every step.
    std::vector<double> c1(blocks), c2(blocks);
    for (std::size_t j = 0; j < blocks; ++j) {
      c1[j] = 1.0 - p1_[t * blocks + j];
      c2[j] = 1.0 - p2_[t * blocks + j];
    }
    c.extra.resize(2 * n);
    blocks_.Expand(c1, std::span(c.extra).first(n));
    blocks_.Expand(c2, std::span(c.extra).last(n));
  }

  std::span<const double> MomentInputs(std::span<const double> g,
                                       std::span<double> scratch) const override {
    const std::size_t n = g.size();
    for (std::size_t k = 0; k < n; ++k) {
      scratch[k] = g[k];
      scratch[n + k] = g[k] * g[k];
    }
    return scratch;
  }

  std::span<const double> Direction(const StepCoefficients& c, std::span<const double> u,
                                    std::span<double> scratch) const override {
    const std::size_t n = scratch.size();
    for (std::size_t k = 0; k < n; ++k) {
      scratch[k] = -(u[k] / c.extra[k]) / (std::sqrt(u[n + k] / c.extra[n + k]) + schedule_.eps);
    }
    return scratch;
  }

 private:
  const AdamSchedule& schedule_;  // these four are the run's, which outlives this
  const std::vector<double>& p1_;
  const std::vector<double>& p2_;
  const ParameterBlocks& blocks_;
};

// Π_{τ≤t} β_τ per block, t = 0 … T−1.
std::vector<double> RunningProducts(const std::vector<double>& beta, std::size_t iters,
                                    std::size_t blocks) {
  std::vector<double> products(beta.size());
  for (std::size_t j = 0; j < blocks; ++j) {
    double p = 1.0;
    for (std::size_t t = 0; t < iters; ++t) products[t * blocks + j] = p *= beta[t * blocks + j];
  }
  return products;
}

}  // namespace

ReversibleAdam::ReversibleAdam(AdamSetup setup, TrainingOptions options)
    : ReversibleTraining(std::move(setup.model), std::move(setup.blocks),
                         std::move(setup.batches), std::move(options), "ReversibleAdam"),
      schedule_(std::move(setup.schedule)) {
  schedule_.Validate();
  beta1_products_ = RunningProducts(schedule_.beta1, schedule_.iters, schedule_.blocks);
  beta2_products_ = RunningProducts(schedule_.beta2, schedule_.iters, schedule_.blocks);
  SetOptimizer(std::make_unique<AdamRule>(schedule_, beta1_products_, beta2_products_, blocks()),
               schedule_.blocks);
}

void ReversibleAdam::Train(std::span<const double> w0) {
  const std::vector<double> zeros(w0.size(), 0.0);
  Train(w0, zeros, zeros);
}

void ReversibleAdam::Train(std::span<const double> w0, std::span<const double> m0,
                           std::span<const double> s0) {
  if (m0.size() != w0.size() || s0.size() != w0.size()) {
    throw std::invalid_argument("ReversibleAdam::Train: w0, m0 and s0 need the same size, got " +
                                std::to_string(w0.size()) + ", " + std::to_string(m0.size()) +
                                " and " + std::to_string(s0.size()));
  }
  for (std::size_t k = 0; k < s0.size(); ++k) {
    if (!(s0[k] >= 0.0)) {
      throw std::invalid_argument("ReversibleAdam::Train: s0 of parameter " +
                                  model().ParameterName(k) + " = " + std::to_string(s0[k]) +
                                  " is not ≥ 0");
    }
  }
  std::vector<double> u0(m0.begin(), m0.end());
  u0.insert(u0.end(), s0.begin(), s0.end());
  TrainFrom(w0, u0);
}

AdamHypergradients ReversibleAdam::Reverse(std::span<const double> d_wT,
                                           std::span<const double> d_theta) {
  const Model& model = this->model();
  const std::size_t n = model.num_params(), hyper = model.num_hyper();
  const std::size_t iters = schedule_.iters, blocks = schedule_.blocks;
  BeginReverse(d_wT, d_theta);
  AdamHypergradients h;
  h.d_alpha.assign(iters * blocks, 0.0);
  h.d_beta1.assign(iters * blocks, 0.0);
  h.d_beta2.assign(iters * blocks, 0.0);
  h.d_theta.assign(hyper, 0.0);
  if (!d_theta.empty()) h.d_theta.assign(d_theta.begin(), d_theta.end());
  std::vector<double> d_w(d_wT.begin(), d_wT.end()), d_m(n, 0.0), d_s(n, 0.0);
  std::vector<double> g(n), g_bar(n), hvp(n), mixed(hyper);
  std::vector<double> for_alpha(n), for_c1(n), for_c2(n), for_beta1(n), for_beta2(n), for_eps(n);
  std::vector<double> c1_bar(blocks), c2_bar(blocks), eps_bar(blocks);
  // Σ_{t'≥t} c̄_{t'}·Π_{σ≤t'} β_σ per block, built up as t goes down.
  std::vector<double> tail1(blocks, 0.0), tail2(blocks, 0.0);
  StepCoefficients c;
  Trajectory& trajectory = this->trajectory();
  const double eps = schedule_.eps;
  for (std::size_t t = iters; t-- > 0;) {
    optimizer().Coefficients(t, c);
    const std::span<const double> u = trajectory.moments();  // m_{t+1}, s_{t+1}
    for (std::size_t k = 0; k < n; ++k) {
      const double c1 = c.extra[k], c2 = c.extra[n + k];
      const double m_hat = u[k] / c1, root = std::sqrt(u[n + k] / c2), denom = root + eps;
      const double a = c.alpha[k] * d_w[k];
      for_alpha[k] = d_w[k] * (-m_hat / denom);
      d_m[k] += -a / (c1 * denom);
      if (root > 0.0) d_s[k] += a * m_hat / (2.0 * root * c2 * denom * denom);
      for_eps[k] = a * m_hat / (denom * denom);
      for_c1[k] = a * m_hat / (c1 * denom);
      for_c2[k] = -a * m_hat * root / (2.0 * c2 * denom * denom);
    }
    this->blocks().AccumulateSum(for_alpha, std::span(h.d_alpha).subspan(t * blocks, blocks));
    std::fill(c1_bar.begin(), c1_bar.end(), 0.0);
    std::fill(c2_bar.begin(), c2_bar.end(), 0.0);
    std::fill(eps_bar.begin(), eps_bar.end(), 0.0);
    this->blocks().AccumulateSum(for_c1, c1_bar);
    this->blocks().AccumulateSum(for_c2, c2_bar);
    this->blocks().AccumulateSum(for_eps, eps_bar);
    for (double e : eps_bar) h.d_eps += e;
    trajectory.UndoPosition(c);  // w_t
    model.Gradient(trajectory.position(), BatchAt(t), g);
    for (std::size_t k = 0; k < n; ++k) {
      g_bar[k] = c.increment[k] * d_m[k] + 2.0 * c.increment[n + k] * g[k] * d_s[k];
    }
    model.GradientAndHvp(trajectory.position(), BatchAt(t), g_bar, g, hvp,
                         hyper > 0 ? std::span<double>(mixed) : std::span<double>());
    trajectory.UndoMoments(c, g);  // m_t, s_t
    const std::span<const double> u_t = trajectory.moments();
    for (std::size_t k = 0; k < n; ++k) {
      for_beta1[k] = d_m[k] * (u_t[k] - g[k]);
      for_beta2[k] = d_s[k] * (u_t[n + k] - g[k] * g[k]);
    }
    const auto d_beta1_t = std::span(h.d_beta1).subspan(t * blocks, blocks);
    const auto d_beta2_t = std::span(h.d_beta2).subspan(t * blocks, blocks);
    this->blocks().AccumulateSum(for_beta1, d_beta1_t);
    this->blocks().AccumulateSum(for_beta2, d_beta2_t);
    // The bias corrections: c_{t'} = 1 − Π_{σ≤t'} β_σ, so ∂c_{t'}/∂β_t = −Π_{σ≤t'} β_σ / β_t.
    for (std::size_t j = 0; j < blocks; ++j) {
      tail1[j] += c1_bar[j] * beta1_products_[t * blocks + j];
      tail2[j] += c2_bar[j] * beta2_products_[t * blocks + j];
      d_beta1_t[j] -= tail1[j] / schedule_.Beta1(t, j);
      d_beta2_t[j] -= tail2[j] / schedule_.Beta2(t, j);
    }
    for (std::size_t k = 0; k < n; ++k) {
      d_w[k] += hvp[k];
      d_m[k] *= c.decay[k];
      d_s[k] *= c.decay[n + k];
    }
    for (std::size_t i = 0; i < hyper; ++i) h.d_theta[i] += mixed[i];
    if (options().on_reverse_step) options().on_reverse_step(iters - t);
  }
  h.d_w0 = std::move(d_w);
  h.d_m0 = std::move(d_m);
  h.d_s0 = std::move(d_s);
  h.reversal = trajectory.Check();
  return h;
}

}  // namespace hypergrad
