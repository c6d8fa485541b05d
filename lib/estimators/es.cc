#include "estimators/es.h"

#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "estimators/float_sgd.h"
#include "estimators/perturbation.h"
#include "random/random.h"

namespace hypergrad {

EsEstimator::EsEstimator(std::size_t samples, double sigma, std::uint64_t seed)
    : samples_(samples), sigma_(sigma), seed_(seed) {
  if (samples == 0) throw std::invalid_argument("es: --samples must be at least 1");
  if (!(sigma >= kMinSigma && sigma <= kMaxSigma)) {
    char got[32];
    std::snprintf(got, sizeof got, "%g", sigma);
    throw std::invalid_argument(std::string("es: --sigma must be in [1e-10, 1], got ") + got);
  }
}

std::string EsEstimator::settings() const {
  return "es samples=" + std::to_string(samples_) + " sigma=" + std::to_string(sigma_) +
         " seed=" + std::to_string(seed_);
}

EstimatedHypergradients EsEstimator::Estimate(const EstimatorProblem& problem,
                                              BlockHypergradients* blocks) const {
  problem.Validate();
  const PerturbationSpace space(problem);
  std::vector<double> eps(space.size()), sum(space.size(), 0.0);
  auto run = [&](double sign) {
    const SgdSchedule s = space.PerturbedSchedule(eps, sign, sigma_);
    std::vector<double> w = space.PerturbedW0(eps, sign, sigma_), v = problem.v0;
    const auto model = space.PerturbedModel(eps, sign, sigma_);
    FloatSgdTrain(*model, problem.blocks, s, problem.batches, 0, s.iters, w, v);
    return problem.objective(w, {}, {});
  };
  for (std::size_t n = 0; n < samples_; ++n) {
    RandomStream rng(seed_, {n, 0});  // PES's stream of truncation 0
    for (double& e : eps) e = rng.Normal();
    const double diff = run(+1.0) - run(-1.0);
    for (std::size_t i = 0; i < eps.size(); ++i) sum[i] += diff * eps[i];
    if (problem.progress) problem.progress(n + 1, samples_);
  }
  EstimatedHypergradients out = space.ToEstimate(sum, samples_, sigma_);
  if (blocks != nullptr) *blocks = ReduceToBlocks(out, problem);
  return out;
}

}  // namespace hypergrad
