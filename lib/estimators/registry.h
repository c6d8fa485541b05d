// The estimators by name, with the flags each takes, their defaults and accepted ranges, for
// the tools and the benchmark:
//   exact                      (no flags)
//   truncated --truncation K   (default 10; K in [0, 1000000] and K ≤ T)
//   drmad, forward, greedy     (no flags)
//   neumann  --terms K         (default 20; K in [0, 100000]: K = 0 is the first term A·∇f)
//   cg       --terms K         (default 20; K in [1, 100000] iterations at most)
//            --tolerance R     (default 1e-12; R in [1e-16, 0.1]: stop when ‖r‖ ≤ R·‖∇_w f‖)
//   es       --samples N --sigma S          (defaults 16, 0.01; N in [1, 100000],
//                                            S in [1e-10, 1], relative to each coordinate's scale)
//   pes      --truncation K --samples N --sigma S   (defaults 10, 16, 0.01; K in [1, 1000000]
//                                            and K ≤ T, N and S as es)
// neumann and cg estimate only θ, the hyperparameters the training loss depends on explicitly
// (EstimatorNeedsTheta): a run without them is refused. A flag that the estimator does not take
// is an error, never ignored; so is a value outside its range (naming the flag, the estimator
// and the range).
#ifndef HYPERGRAD_ESTIMATORS_REGISTRY_H_
#define HYPERGRAD_ESTIMATORS_REGISTRY_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "estimators/estimator.h"

namespace hypergrad {

// The flags as given on a command line (unset = not given).
struct EstimatorFlags {
  std::optional<std::size_t> truncation, terms, samples;
  std::optional<double> sigma, tolerance;
  std::uint64_t seed = 0;         // ES/PES noise (every tool has its own --seed)
  TrainingOptions exact_options;       // the exact estimator's trajectory method, buffer, threads
};

// The registered names, in a fixed order, and the flags each takes ("--terms", ...).
std::vector<std::string> EstimatorNames();
std::vector<std::string> EstimatorFlagNames(const std::string& name);

// The estimator `name` with `flags`. Throws std::invalid_argument naming the estimator and the
// flag for an unknown name ("unknown estimator 'foo' (known: exact, drmad, ...)"), a flag it
// does not take ("estimator 'drmad' takes no --terms"), or a value out of range.
std::unique_ptr<Estimator> MakeEstimator(const std::string& name, const EstimatorFlags& flags);

// `flags` with every flag that `name` takes set: the value given or the default above; the
// flags it does not take stay unset. Throws as MakeEstimator for an unknown name, a flag that
// the estimator does not take, or a value outside the estimator's range ("--terms: expected a
// whole number in [1, 100000] for --estimator cg, got 0") (the provenance of a run: the
// settings it ran with).
EstimatorFlags CompleteEstimatorFlags(const std::string& name, const EstimatorFlags& flags);

// Whether the estimator `name` gives a signal for θ only (neumann, cg: the implicit function
// needs hyperparameters inside the training loss, e.g. --log-l2's penalties).
// std::invalid_argument for an unknown name.
bool EstimatorNeedsTheta(const std::string& name);

// Whether the estimator `name` draws random noise from EstimatorFlags::seed (es, pes).
// std::invalid_argument for an unknown name.
bool EstimatorDrawsNoise(const std::string& name);

// Parses one estimator flag and its value into `flags` ("--terms", "20") and returns true;
// returns false, changing nothing, for any other flag (the tool's own). std::invalid_argument
// naming the flag for a malformed value (not a whole number; --sigma and --tolerance: not a
// number in their ranges above, "--sigma: expected a number in [1e-10, 1], got '0'"). The
// whole numbers' ranges depend on the estimator: CompleteEstimatorFlags checks them.
bool ParseEstimatorFlag(const std::string& flag, const std::string& value, EstimatorFlags& flags);

}  // namespace hypergrad

#endif  // HYPERGRAD_ESTIMATORS_REGISTRY_H_
