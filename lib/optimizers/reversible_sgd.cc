#include "optimizers/reversible_sgd.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "arithmetic/fixed_point.h"
#include "runtime/parallel.h"

namespace hypergrad {

SgdSchedule SgdSchedule::Constant(std::size_t iters, std::size_t blocks, double alpha, double gamma) {
  return {iters, blocks, std::vector<double>(iters * blocks, alpha),
          std::vector<double>(iters * blocks, gamma)};
}

void SgdSchedule::Validate() const {
  // γ in (0, 2), as SgdSchedule::Validate's contract says (reversible_sgd.h).
  ValidateSchedules("SgdSchedule", iters, blocks, alpha, {{"gamma", gamma}}, 2.0);
}

namespace {

// The adjoint step of SGD with momentum (the reverse pass in reversible_sgd.h).
class SgdAdjointStep final : public AdjointStep {
 public:
  SgdAdjointStep(const ParameterBlocks& blocks, const ElementLoop& loop)
      : blocks_(blocks), loop_(loop), products_(blocks.num_params()) {}

  void Position(const StepCoefficients& c, std::span<const double> v_next, Adjoints& a) override {
    // dα_t = d_w · v_{t+1}, per block, before the position is reversed.
    const std::size_t blocks = blocks_.num_blocks();
    loop_([&](std::size_t k) { products_[k] = a.d_w[k] * v_next[k]; });
    blocks_.AccumulateSum(products_, std::span(a.d_alpha).subspan(c.t * blocks, blocks));
  }
  void GradientAdjoint(const StepCoefficients& c, std::span<const double>,
                       std::span<const double>, Adjoints& a, std::span<double> u) override {
    loop_([&](std::size_t k) {
      a.d_u[k] += c.alpha[k] * a.d_w[k];
      u[k] = -c.increment[k] * a.d_u[k];  // (1−γ)·d_v; its H·u is subtracted below
    });
  }
  void Moments(const StepCoefficients& c, std::span<const double> v_t, std::span<const double> g,
               std::span<const double> hvp, std::span<const double> mixed, Adjoints& a) override {
    const std::size_t blocks = blocks_.num_blocks();
    // One pass: each element's product takes d_u before its decay, and the sums below read only
    // the products, so this is the two loops' arithmetic (one loop's end fewer to wait at).
    loop_([&](std::size_t k) {
      products_[k] = a.d_u[k] * (v_t[k] + g[k]);
      a.d_w[k] -= hvp[k];
      a.d_u[k] *= c.decay[k];
    });
    blocks_.AccumulateSum(products_, std::span(a.d_schedules[0]).subspan(c.t * blocks, blocks));
    for (std::size_t i = 0; i < mixed.size(); ++i) a.d_theta[i] -= mixed[i];
  }

 private:
  const ParameterBlocks& blocks_;
  const ElementLoop& loop_;
  std::vector<double> products_;
};

// SGD with momentum in the form of exact_optimizer.h: u = v, r = γ, c = −(1−γ), φ(g) = g,
// Δ(u) = v.
class SgdMomentum final : public ExactOptimizer {
 public:
  SgdMomentum(SgdSchedule schedule, const ParameterBlocks& blocks)
      : schedule_(std::move(schedule)), blocks_(blocks) {}

  std::string_view name() const override { return "sgd"; }
  std::size_t num_moments() const override { return 1; }
  std::string MomentName(std::size_t) const override { return "v"; }
  std::vector<std::string> ScheduleNames() const override { return {"gamma"}; }
  std::size_t iters() const override { return schedule_.iters; }

  void Coefficients(std::size_t t, StepCoefficients& c) const override {
    const std::size_t blocks = schedule_.blocks;
    c.t = t;
    ExpandStepCoefficients(blocks_, {schedule_.alpha.data() + t * blocks, blocks},
                           {{{schedule_.gamma.data() + t * blocks, blocks}, -1.0}}, c);
  }
  std::span<const double> MomentInputs(std::size_t, std::span<const double> g,
                                       std::span<const double>,
                                       std::span<double>) const override {
    return g;
  }
  std::span<const double> Direction(const StepCoefficients&, std::span<const double> v,
                                    std::span<double>) const override {
    return v;
  }
  std::unique_ptr<AdjointStep> NewAdjointStep(const ParameterBlocks& blocks,
                                              const ElementLoop& loop) const override {
    return std::make_unique<SgdAdjointStep>(blocks, loop);
  }

 private:
  SgdSchedule schedule_;
  const ParameterBlocks& blocks_;  // the run's, which outlives this
};

}  // namespace

ReversibleSgd::ReversibleSgd(SgdSetup setup, TrainingOptions options)
    : ReversibleTraining(std::move(setup.model), std::move(setup.blocks),
                         std::move(setup.batches), std::move(options), "ReversibleSgd") {
  setup.schedule.Validate();
  const std::size_t schedule_blocks = setup.schedule.blocks;
  SetOptimizer(std::make_unique<SgdMomentum>(std::move(setup.schedule), blocks()),
               schedule_blocks);
}

OptimizerInfo SgdOptimizerInfo() {
  return MakeOptimizerInfo<ReversibleSgd>(
      "sgd", "SGD with momentum (--gamma): v ← γv − (1−γ)g, w ← w + α·v", 0.1,
      {DecayFlag("gamma", 0.9, "momentum decay (sgd)")});
}

}  // namespace hypergrad
