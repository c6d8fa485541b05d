#include "estimators/pes.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "estimators/float_sgd.h"
#include "estimators/perturbation.h"
#include "random/random.h"

namespace hypergrad {

PesEstimator::PesEstimator(std::size_t truncation, std::size_t samples, double sigma,
                           std::uint64_t seed)
    : truncation_(truncation), samples_(samples), sigma_(sigma), seed_(seed) {
  if (truncation == 0) throw std::invalid_argument("pes: --truncation must be at least 1");
  if (samples == 0) throw std::invalid_argument("pes: --samples must be at least 1");
  if (!(sigma >= kMinSigma && sigma <= kMaxSigma)) {
    char got[32];
    std::snprintf(got, sizeof got, "%g", sigma);
    throw std::invalid_argument(std::string("pes: --sigma must be in [1e-10, 1], got ") + got);
  }
}

std::string PesEstimator::settings() const {
  return "pes truncation=" + std::to_string(truncation_) + " samples=" + std::to_string(samples_) +
         " sigma=" + std::to_string(sigma_) + " seed=" + std::to_string(seed_);
}

EstimatedHypergradients PesEstimator::Estimate(const EstimatorProblem& problem,
                                               BlockHypergradients* blocks) const {
  problem.Validate();
  const std::size_t iters = problem.iters();
  if (truncation_ > iters) {
    throw std::invalid_argument("estimator 'pes': --truncation " + std::to_string(truncation_) +
                                " exceeds the run's T = " + std::to_string(iters));
  }
  const PerturbationSpace space(problem);
  const std::size_t d = space.size();
  struct Particle {
    std::vector<double> w, v;
  };
  std::vector<Particle> plus(samples_), minus(samples_);
  std::vector<std::vector<double>> xi(samples_, std::vector<double>(d, 0.0));
  std::vector<double> eps(d), sum(d, 0.0);
  std::size_t truncations = 0;
  const std::size_t windows = (iters + truncation_ - 1) / truncation_;
  for (std::size_t first = 0; first < iters; first += truncation_, ++truncations) {
    if (problem.progress) problem.progress(truncations, windows);
    const std::size_t last = std::min(iters, first + truncation_);
    for (std::size_t n = 0; n < samples_; ++n) {
      RandomStream rng(seed_, {n, truncations});
      for (double& e : eps) e = rng.Normal();
      for (std::size_t i = 0; i < d; ++i) xi[n][i] += eps[i];
      double loss[2];
      for (int side = 0; side < 2; ++side) {
        const double sign = side == 0 ? 1.0 : -1.0;
        Particle& particle = side == 0 ? plus[n] : minus[n];
        if (first == 0) {
          particle.w = space.PerturbedW0(eps, sign, sigma_);
          particle.v = problem.v0;
        }
        const SgdSchedule s = space.PerturbedSchedule(eps, sign, sigma_);
        const auto model = space.PerturbedModel(eps, sign, sigma_);
        FloatSgdTrain(*model, problem.blocks, s, problem.batches, first, last, particle.w,
                      particle.v);
        loss[side] = problem.objective(particle.w, {}, {});
      }
      for (std::size_t i = 0; i < d; ++i) sum[i] += (loss[0] - loss[1]) * xi[n][i];
    }
  }
  if (problem.progress) problem.progress(truncations, windows);
  for (double& x : sum) x /= static_cast<double>(truncations);
  EstimatedHypergradients out = space.ToEstimate(sum, samples_, sigma_);
  if (blocks != nullptr) *blocks = ReduceToBlocks(out, problem);
  return out;
}

}  // namespace hypergrad
