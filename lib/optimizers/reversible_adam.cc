#include "optimizers/reversible_adam.h"

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
  ValidateSchedules("AdamSchedule", iters, blocks, alpha, {{"beta1", beta1}, {"beta2", beta2}});
  if (!(eps >= kAdamMinEps && eps <= kAdamMaxEps)) {
    std::ostringstream out;
    out.precision(17);
    out << "AdamSchedule: eps = " << eps << " is outside [1e-12, 1]";
    if (eps < kAdamMinEps) {
      out << ": below 1e-12 the second moment's fixed-point grid (2^-"
          << kAdamMomentFormat.fraction_bits
          << ") no longer gives Adam's step to 1e-6 for small gradients";
    }
    throw std::invalid_argument(out.str());
  }
}

namespace {

// The adjoint step of Adam (the reverse pass in reversible_adam.h). c.extra holds (c1, c2).
class AdamAdjointStep final : public AdjointStep {
 public:
  AdamAdjointStep(const AdamSchedule& schedule, const std::vector<double>& beta1_products,
                  const std::vector<double>& beta2_products, const ParameterBlocks& blocks,
                  const ElementLoop& loop)
      : schedule_(schedule), p1_(beta1_products), p2_(beta2_products), blocks_(blocks),
        loop_(loop) {
    const std::size_t n = blocks.num_params(), b = blocks.num_blocks();
    for (auto* v : {&for_alpha_, &for_c1_, &for_c2_, &for_eps_}) v->resize(n);
    for (auto* v : {&c1_bar_, &c2_bar_, &eps_bar_}) v->resize(b);
    tail1_.assign(b, 0.0);
    tail2_.assign(b, 0.0);
  }

  void Position(const StepCoefficients& c, std::span<const double> u, Adjoints& a) override {
    const std::size_t n = for_alpha_.size(), blocks = schedule_.blocks, t = c.t;
    const double eps = schedule_.eps;
    std::span<double> d_m = std::span(a.d_u).first(n), d_s = std::span(a.d_u).last(n);
    loop_([&](std::size_t k) {  // u = m_{t+1}, s_{t+1}
      const double c1 = c.extra[k], c2 = c.extra[n + k];
      const double m_hat = u[k] / c1, root = std::sqrt(u[n + k] / c2), denom = root + eps;
      const double alpha_dw = c.alpha[k] * a.d_w[k];
      for_alpha_[k] = a.d_w[k] * (-m_hat / denom);
      d_m[k] += -alpha_dw / (c1 * denom);
      if (root > 0.0) d_s[k] += alpha_dw * m_hat / (2.0 * root * c2 * denom * denom);
      for_eps_[k] = alpha_dw * m_hat / (denom * denom);
      for_c1_[k] = alpha_dw * m_hat / (c1 * denom);
      for_c2_[k] = -alpha_dw * m_hat * root / (2.0 * c2 * denom * denom);
    });
    blocks_.AccumulateSum(for_alpha_, std::span(a.d_alpha).subspan(t * blocks, blocks));
    std::fill(c1_bar_.begin(), c1_bar_.end(), 0.0);
    std::fill(c2_bar_.begin(), c2_bar_.end(), 0.0);
    std::fill(eps_bar_.begin(), eps_bar_.end(), 0.0);
    blocks_.AccumulateSum(for_c1_, c1_bar_);
    blocks_.AccumulateSum(for_c2_, c2_bar_);
    blocks_.AccumulateSum(for_eps_, eps_bar_);
    for (double e : eps_bar_) a.d_scalars[0] += e;
  }

  void GradientAdjoint(const StepCoefficients& c, std::span<const double>,
                       std::span<const double> g, Adjoints& a, std::span<double> g_bar) override {
    const std::size_t n = g.size();
    loop_([&](std::size_t k) {
      g_bar[k] = c.increment[k] * a.d_u[k] + 2.0 * c.increment[n + k] * g[k] * a.d_u[n + k];
    });
  }

  void Moments(const StepCoefficients& c, std::span<const double> u_t, std::span<const double> g,
               std::span<const double> hvp, std::span<const double> mixed, Adjoints& a) override {
    const std::size_t n = g.size(), blocks = schedule_.blocks, t = c.t;
    loop_([&](std::size_t k) {  // for_alpha_ and for_c1_ serve as scratch for the β products
      for_alpha_[k] = a.d_u[k] * (u_t[k] - g[k]);
      for_c1_[k] = a.d_u[n + k] * (u_t[n + k] - g[k] * g[k]);
    });
    const auto d_beta1_t = std::span(a.d_schedules[0]).subspan(t * blocks, blocks);
    const auto d_beta2_t = std::span(a.d_schedules[1]).subspan(t * blocks, blocks);
    blocks_.AccumulateSum(for_alpha_, d_beta1_t);
    blocks_.AccumulateSum(for_c1_, d_beta2_t);
    // The bias corrections: c_{t'} = 1 − Π_{σ≤t'} β_σ, so ∂c_{t'}/∂β_t = −Π_{σ≤t'} β_σ / β_t.
    for (std::size_t j = 0; j < blocks; ++j) {
      tail1_[j] += c1_bar_[j] * p1_[t * blocks + j];
      tail2_[j] += c2_bar_[j] * p2_[t * blocks + j];
      d_beta1_t[j] -= tail1_[j] / schedule_.Beta1(t, j);
      d_beta2_t[j] -= tail2_[j] / schedule_.Beta2(t, j);
    }
    loop_([&](std::size_t k) {
      a.d_w[k] += hvp[k];
      a.d_u[k] *= c.decay[k];
      a.d_u[n + k] *= c.decay[n + k];
    });
    for (std::size_t i = 0; i < mixed.size(); ++i) a.d_theta[i] += mixed[i];
  }

 private:
  const AdamSchedule& schedule_;  // these five are the run's, which outlive this
  const std::vector<double>& p1_;
  const std::vector<double>& p2_;
  const ParameterBlocks& blocks_;
  const ElementLoop& loop_;
  std::vector<double> for_alpha_, for_c1_, for_c2_, for_eps_;
  std::vector<double> c1_bar_, c2_bar_, eps_bar_;
  // Σ_{t'≥t} c̄_{t'}·Π_{σ≤t'} β_σ per block, built up as t goes down.
  std::vector<double> tail1_, tail2_;
};

// Adam in the form of exact_optimizer.h: u = (m, s), r = (β1, β2), c = (1−β1, 1−β2),
// φ(g) = (g, g²), Δ(u) = −m̂/(√ŝ + ε). c.extra holds (c1, c2) per parameter.
class AdamRule final : public ExactOptimizer {
 public:
  AdamRule(const AdamSchedule& schedule, const std::vector<double>& beta1_products,
           const std::vector<double>& beta2_products, const ParameterBlocks& blocks)
      : schedule_(schedule), p1_(beta1_products), p2_(beta2_products), blocks_(blocks) {}

  std::string_view name() const override { return "adam"; }
  std::size_t num_moments() const override { return 2; }
  std::string MomentName(std::size_t i) const override { return i == 0 ? "m" : "s"; }
  std::vector<std::string> ScheduleNames() const override { return {"beta1", "beta2"}; }
  std::vector<std::string> ScalarNames() const override { return {"eps"}; }
  bool AdjointNeedsGradient() const override { return true; }
  std::unique_ptr<AdjointStep> NewAdjointStep(const ParameterBlocks& blocks,
                                              const ElementLoop& loop) const override {
    return std::make_unique<AdamAdjointStep>(schedule_, p1_, p2_, blocks, loop);
  }
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

  std::span<const double> MomentInputs(std::size_t, std::span<const double> g,
                                       std::span<const double>,
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
  std::vector<double> u0(m0.begin(), m0.end());
  u0.insert(u0.end(), s0.begin(), s0.end());
  TrainFrom(w0, u0);
}

void ReversibleAdam::CheckInitialMoments(std::span<const double> u0) const {
  RequireNonNegativeMoment(u0, 1);  // s
}

OptimizerInfo AdamOptimizerInfo() {
  return MakeOptimizerInfo<ReversibleAdam>(
      "adam",
      "Adam (--beta1, --beta2, --eps): w ← w − α·m̂/(√ŝ + ε) with bias-corrected m̂, ŝ and "
      "m_0 = s_0 = 0",
      0.01,
      {DecayFlag("beta1", 0.9, "decay of the first moment m (adam)"),
       DecayFlag("beta2", 0.999, "decay of the second moment s (adam)"),
       {"eps", false, 1e-8, kAdamMinEps, kAdamMaxEps,
        "added to √ŝ in Adam's step (adam; at least 1e-12: the grid of s, 2^-116, gives Adam's "
        "step for gradients down to 1e-12)"}});
}

}  // namespace hypergrad
