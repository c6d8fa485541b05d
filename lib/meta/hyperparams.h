// Hyperparameter transforms used by the figures, and their chain rule:
// α = exp(log α), γ = logistic(u), initial weights w_0 = exp(log s_block)·ε for a fixed ε,
// λ = exp(log λ). The meta-optimizers work on the unconstrained values.
#ifndef HYPERGRAD_META_HYPERPARAMS_H_
#define HYPERGRAD_META_HYPERPARAMS_H_

#include <span>
#include <vector>

#include "models/model.h"
#include "optimizers/reversible_sgd.h"

namespace hypergrad {

// σ(u) = 1/(1 + e^−u) (what the authors' code calls `logit`) and its inverse log(p/(1−p)).
double Logistic(double u);
double Logit(double p);

// exp of each value.
std::vector<double> Exp(std::span<const double> log_values);
// Logistic of each value.
std::vector<double> LogisticOf(std::span<const double> u);

// ∂f/∂(log x) = x·∂f/∂x, element-wise, given x = exp(log x) and ∂f/∂x.
std::vector<double> ExpChainRule(std::span<const double> x, std::span<const double> d_x);
// ∂f/∂u = γ(1−γ)·∂f/∂γ for γ = σ(u), given γ and ∂f/∂γ.
std::vector<double> LogisticChainRule(std::span<const double> gamma,
                                      std::span<const double> d_gamma);

// w_0[k] = exp(log_scales[block(k)])·epsilon[k].
std::vector<double> ScaledInitialWeights(const ParameterBlocks& blocks,
                                         std::span<const double> log_scales,
                                         std::span<const double> epsilon);
// ∂f/∂(log s_j) = Σ_{k ∈ j} ∂f/∂w_0[k]·w_0[k] for w_0 = exp(log s)·ε.
std::vector<double> InitScaleChainRule(const ParameterBlocks& blocks, std::span<const double> w0,
                                       std::span<const double> d_w0);

// The hyperparameters of Figs 2–5 for T iterations and B parameter blocks, on the unconstrained
// scale the meta-optimizer works on: log α[t][j], logit γ[t][j] (row-major T × B) and
// log s[j], the initial scale of each block (w_0 = exp(log s_block)·ε). Flattened in that order
// (2·T·B + B values: 1,608 for T = 100, B = 8).
struct SgdScheduleHyperparameters {
  std::size_t iters = 0, blocks = 0;
  std::vector<double> log_alpha, logit_gamma, log_init_scale;

  static SgdScheduleHyperparameters Constant(std::size_t iters, std::size_t blocks,
                                             double log_alpha, double gamma, double log_init_scale);
  std::size_t size() const { return 2 * iters * blocks + blocks; }
  // α = exp(log α), γ = σ(logit γ).
  SgdSchedule ToSchedule() const;
  std::vector<double> Flatten() const;
  // Inverse of Flatten; throws std::invalid_argument if the size is not 2·T·B + B.
  static SgdScheduleHyperparameters Unflatten(std::size_t iters, std::size_t blocks,
                                              std::span<const double> flat);
  // ∂f/∂(flattened hyperparameters) from the hypergradients of a run that started from
  // w0 = exp(log s)·ε: α·∂f/∂α, γ(1−γ)·∂f/∂γ and Σ_{k∈j} ∂f/∂w_0[k]·w_0[k].
  std::vector<double> FlatGradient(const Hypergradients& h, const ParameterBlocks& partition,
                                   std::span<const double> w0) const;
};

}  // namespace hypergrad

#endif  // HYPERGRAD_META_HYPERPARAMS_H_
