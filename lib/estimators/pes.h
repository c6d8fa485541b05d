// `pes` (truncation K, N antithetic particle pairs, σ): Persistent Evolution Strategies
// (Vicol, Metz & Sohl-Dickstein, ICML 2021, Algorithm 2). The run is cut into M = ⌈T/K⌉
// truncations; each of the 2N particles keeps its own state (w, v) across truncations. In
// truncation m a fresh ε_{n,m} ~ N(0, I) (RandomStream(seed, {n, m})) over the perturbation
// space (perturbation.h) perturbs particle pair n's hyperparameters by ±σ s⊙ε_{n,m}, the sum
// ξ_n += ε_{n,m} is kept, and with L± = f(w± at the truncation's end)
//   ĝ_m,i = Σ_n ξ_{n,i} (L+ − L−) / (2Nσ s_i);   estimate = (1/M) Σ_m ĝ_m.
//   Approximates: the gradient of the online objective (1/M) Σ_m f(w_{min((m+1)K, T)}) (the
//     meta-loss after every truncation, as PES is used), smoothed by σ; unbiased for it.
//     With K = T it is `es` with N pairs.
//   Memory: O(N·P) (2N particle states); time: 2N training runs plus 2N·M evaluations of f.
//   Bias: against the terminal objective f(w_T) measured here, the online objective weighs
//     early states too (the short-horizon bias of its early terms); its variance grows with
//     M, because ξ accumulates every truncation's noise.
//   K > T is refused (std::invalid_argument), as truncated's: K = T is already `es`.
#ifndef HYPERGRAD_ESTIMATORS_PES_H_
#define HYPERGRAD_ESTIMATORS_PES_H_

#include <cstdint>

#include "estimators/estimator.h"

namespace hypergrad {

class PesEstimator final : public Estimator {
 public:
  // truncation ≥ 1, samples ≥ 1, sigma in [kMinSigma, kMaxSigma] (perturbation.h)
  // (std::invalid_argument otherwise).
  PesEstimator(std::size_t truncation, std::size_t samples, double sigma, std::uint64_t seed = 0);
  std::string name() const override { return "pes"; }
  std::string settings() const override;
  // Throws std::invalid_argument when K > T ("--truncation 20 exceeds the run's T = 12").
  EstimatedHypergradients Estimate(const EstimatorProblem& problem,
                                   BlockHypergradients* blocks = nullptr) const override;

 private:
  std::size_t truncation_, samples_;
  double sigma_;
  std::uint64_t seed_;
};

}  // namespace hypergrad

#endif  // HYPERGRAD_ESTIMATORS_PES_H_
