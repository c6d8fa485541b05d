// `es` (N antithetic pairs, σ): evolution strategies on the whole run (Salimans et al. 2017;
// as a hypergradient estimator e.g. Vicol et al., ICML 2021, their baseline). For n = 1 … N,
// ε_n ~ N(0, I) over the perturbation space (perturbation.h: α, γ, w_0, θ, each coordinate
// scaled), f± = f(w_T(φ ± σ s⊙ε_n)) from two float64 runs, and
//   ∂f/∂φ_i ≈ Σ_n (f+ − f−) ε_{n,i} / (2Nσ s_i).
// ε_n comes from RandomStream(seed, {n, 0}) (PES's first truncation: PES with K ≥ T gives
// these bits); the same seed gives the same bits. f's direct dependence on θ is not perturbed
// (the objective is called as given): ES sees θ only through training.
//   Approximates: the gradient of the Gaussian-smoothed f, E[f(φ + σ s⊙ε)]; for small σ, ∇f.
//   Memory: O(P + D) (D = 2TB + P (+ dim θ) coordinates); time: 2N training runs.
//   Bias: smoothing bias O(σ²·third derivatives) (none for a quadratic f); variance
//     ≈ ‖s⊙∇f‖²·D/N per coordinate, so the relative error stays near √(D/N) — at D ≈ 10^5
//     (the Fig-2 network's w_0) useless for w_0 with any affordable N.
#ifndef HYPERGRAD_ESTIMATORS_ES_H_
#define HYPERGRAD_ESTIMATORS_ES_H_

#include <cstdint>

#include "estimators/estimator.h"

namespace hypergrad {

class EsEstimator final : public Estimator {
 public:
  // samples ≥ 1 pairs, sigma in [kMinSigma, kMaxSigma] (perturbation.h; std::invalid_argument
  // otherwise).
  EsEstimator(std::size_t samples, double sigma, std::uint64_t seed = 0);
  std::string name() const override { return "es"; }
  std::string settings() const override;
  // Throws std::runtime_error if a perturbed run diverges (lower σ).
  EstimatedHypergradients Estimate(const EstimatorProblem& problem,
                                   BlockHypergradients* blocks = nullptr) const override;

 private:
  std::size_t samples_;
  double sigma_;
  std::uint64_t seed_;
};

}  // namespace hypergrad

#endif  // HYPERGRAD_ESTIMATORS_ES_H_
