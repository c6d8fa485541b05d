// Hyperparameter transforms used by the figures, and their chain rule (reference notes §4):
// α = exp(log α), γ = logistic(u), initial weights w_0 = exp(log s_block)·ε for a fixed ε,
// λ = exp(log λ). The meta-optimizers work on the unconstrained values.
#ifndef HYPERGRAD_HYPERPARAMS_H_
#define HYPERGRAD_HYPERPARAMS_H_

#include <span>
#include <vector>

#include "model.h"

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

}  // namespace hypergrad

#endif  // HYPERGRAD_HYPERPARAMS_H_
