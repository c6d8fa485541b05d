#include "optimizers/reversible_rmsprop.h"

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

#include "runtime/parallel.h"

namespace hypergrad {

void RmspropSchedule::Validate() const {
  ValidateSchedules("RmspropSchedule", iters, blocks, alpha, {{"rho", rho}, {"mu", mu}});
  if (!(eps >= kRmspropMinEps && eps <= kRmspropMaxEps)) {
    std::ostringstream out;
    out.precision(17);
    out << "RmspropSchedule: eps = " << eps << " is outside [1e-300, 1]";
    throw std::invalid_argument(out.str());
  }
}

namespace {

// The adjoint step (the reverse pass in reversible_rmsprop.h); u = (s, m), d_u = (s̄, m̄).
class RmspropAdjointStep final : public AdjointStep {
 public:
  RmspropAdjointStep(double eps, const ParameterBlocks& blocks, const ElementLoop& loop)
      : eps_(eps), blocks_(blocks), loop_(loop), products_(blocks.num_params()),
        q_(blocks.num_params()), eps_bar_(blocks.num_blocks()) {}

  void Position(const StepCoefficients& c, std::span<const double> u, Adjoints& a) override {
    const std::size_t n = q_.size(), blocks = blocks_.num_blocks();
    loop_([&](std::size_t k) {
      products_[k] = a.d_w[k] * -u[n + k];  // ∂w_{t+1}/∂α = Δ = −m_{t+1}
      a.d_u[n + k] += -c.alpha[k] * a.d_w[k];
    });
    blocks_.AccumulateSum(products_, std::span(a.d_alpha).subspan(c.t * blocks, blocks));
  }

  void GradientAdjoint(const StepCoefficients& c, std::span<const double> u,
                       std::span<const double> g, Adjoints& a, std::span<double> g_bar) override {
    const std::size_t n = q_.size();
    loop_([&](std::size_t k) {
      const double shifted = u[k] + eps_, root = std::sqrt(shifted);
      q_[k] = g[k] / root;  // the forward step's q: the same doubles s_{t+1}, g_t
      const double q_bar = c.increment[n + k] * a.d_u[n + k];
      const double via_root = -0.5 * q_bar * q_[k] / shifted;
      a.d_u[k] += via_root;
      products_[k] = via_root;
      g_bar[k] = q_bar / root + 2.0 * c.increment[k] * g[k] * a.d_u[k];
    });
    std::fill(eps_bar_.begin(), eps_bar_.end(), 0.0);
    blocks_.AccumulateSum(products_, eps_bar_);
    for (double e : eps_bar_) a.d_scalars[0] += e;
  }

  void Moments(const StepCoefficients& c, std::span<const double> u_t, std::span<const double> g,
               std::span<const double> hvp, std::span<const double> mixed, Adjoints& a) override {
    const std::size_t n = q_.size(), blocks = blocks_.num_blocks(), t = c.t;
    loop_([&](std::size_t k) { products_[k] = a.d_u[k] * (u_t[k] - g[k] * g[k]); });
    blocks_.AccumulateSum(products_, std::span(a.d_schedules[0]).subspan(t * blocks, blocks));
    loop_([&](std::size_t k) { products_[k] = a.d_u[n + k] * (u_t[n + k] - q_[k]); });
    blocks_.AccumulateSum(products_, std::span(a.d_schedules[1]).subspan(t * blocks, blocks));
    loop_([&](std::size_t k) {
      a.d_w[k] += hvp[k];
      a.d_u[k] *= c.decay[k];
      a.d_u[n + k] *= c.decay[n + k];
    });
    for (std::size_t i = 0; i < mixed.size(); ++i) a.d_theta[i] += mixed[i];
  }

 private:
  double eps_;
  const ParameterBlocks& blocks_;
  const ElementLoop& loop_;
  std::vector<double> products_, q_, eps_bar_;
};

// RMSprop with momentum in the form of exact_optimizer.h: u = (s, m), r = (ρ, μ),
// c = (1−ρ, 1−μ), φ = (g², g/√(s_new + ε)) in two stages, Δ(u) = −m.
class RmspropRule final : public ExactOptimizer {
 public:
  RmspropRule(const RmspropSchedule& schedule, const ParameterBlocks& blocks)
      : schedule_(schedule), blocks_(blocks) {}

  std::string_view name() const override { return "rmsprop"; }
  std::size_t num_moments() const override { return 2; }
  std::string MomentName(std::size_t i) const override { return i == 0 ? "s" : "m"; }
  std::vector<std::string> ScheduleNames() const override { return {"rho", "mu"}; }
  std::vector<std::string> ScalarNames() const override { return {"eps"}; }
  std::size_t iters() const override { return schedule_.iters; }
  // Both moments on the fine grid (reversible_rmsprop.h says why m needs it as much as s).
  FixedPointFormat MomentFormat(std::size_t) const override { return kFineMomentFormat; }

  void Coefficients(std::size_t t, StepCoefficients& c) const override {
    const std::size_t blocks = schedule_.blocks;
    c.t = t;
    const auto row = [&](const std::vector<double>& v) {
      return std::span<const double>(v.data() + t * blocks, blocks);
    };
    ExpandStepCoefficients(blocks_, row(schedule_.alpha),
                           {{row(schedule_.rho), 1.0}, {row(schedule_.mu), 1.0}}, c);
  }

  std::size_t MomentStages() const override { return 2; }
  std::span<const double> MomentInputs(std::size_t stage, std::span<const double> g,
                                       std::span<const double> u,
                                       std::span<double> scratch) const override {
    const std::size_t n = g.size();
    if (stage == 0) {
      for (std::size_t k = 0; k < n; ++k) scratch[k] = g[k] * g[k];
    } else {
      for (std::size_t k = 0; k < n; ++k) scratch[n + k] = g[k] / std::sqrt(u[k] + schedule_.eps);
    }
    return scratch;
  }

  std::span<const double> Direction(const StepCoefficients&, std::span<const double> u,
                                    std::span<double> scratch) const override {
    const std::size_t n = scratch.size();
    for (std::size_t k = 0; k < n; ++k) scratch[k] = -u[n + k];
    return scratch;
  }

  bool AdjointNeedsGradient() const override { return true; }
  std::unique_ptr<AdjointStep> NewAdjointStep(const ParameterBlocks& blocks,
                                              const ElementLoop& loop) const override {
    return std::make_unique<RmspropAdjointStep>(schedule_.eps, blocks, loop);
  }

 private:
  const RmspropSchedule& schedule_;  // the run's, which outlives this
  const ParameterBlocks& blocks_;
};

}  // namespace

ReversibleRmsprop::ReversibleRmsprop(RmspropSetup setup, TrainingOptions options)
    : ReversibleTraining(std::move(setup.model), std::move(setup.blocks),
                         std::move(setup.batches), std::move(options), "ReversibleRmsprop"),
      schedule_(std::move(setup.schedule)) {
  schedule_.Validate();
  SetOptimizer(std::make_unique<RmspropRule>(schedule_, blocks()), schedule_.blocks);
}

void ReversibleRmsprop::Train(std::span<const double> w0) {
  const std::vector<double> zeros(2 * w0.size(), 0.0);
  Train(w0, zeros);
}

void ReversibleRmsprop::CheckInitialMoments(std::span<const double> u0) const {
  RequireNonNegativeMoment(u0, 0);  // s
}

OptimizerInfo RmspropOptimizerInfo() {
  return MakeOptimizerInfo<ReversibleRmsprop>(
      "rmsprop",
      "RMSprop with momentum (--rho, --mu, --eps): s ← ρs + (1−ρ)g², m ← μm + (1−μ)·g/√(s + ε), "
      "w ← w − α·m, s_0 = m_0 = 0",
      0.01,
      {DecayFlag("rho", 0.999, "decay of the mean square s (rmsprop)"),
       DecayFlag("mu", 0.9, "decay of the momentum m (rmsprop)"),
       {"eps", false, 1e-8, kRmspropMinEps, kRmspropMaxEps,
        "added to s inside the root (rmsprop; any positive normal number up to 1)", true}});
}

}  // namespace hypergrad
