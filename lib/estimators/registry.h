// The estimators by name, with the flags each takes, for the tools and the benchmark:
//   exact                      (no flags)
//   truncated --truncation K   (default 10; K ≤ T)
//   drmad, forward, greedy     (no flags)
//   neumann  --terms K         (default 20)
//   cg       --terms K         (default 20)
//   es       --samples N --sigma S          (defaults 16, 0.01)
//   pes      --truncation K --samples N --sigma S   (defaults 10, 16, 0.01)
// A flag that the estimator does not take is an error, never ignored.
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
  std::optional<double> sigma;
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
// flags it does not take stay unset. Throws as MakeEstimator for an unknown name or a flag
// that the estimator does not take (the provenance of a run: the settings it ran with).
EstimatorFlags CompleteEstimatorFlags(const std::string& name, const EstimatorFlags& flags);

// Whether the estimator `name` draws random noise from EstimatorFlags::seed (es, pes).
// std::invalid_argument for an unknown name.
bool EstimatorDrawsNoise(const std::string& name);

// Parses one estimator flag and its value into `flags` ("--terms", "20") and returns true;
// returns false, changing nothing, for any other flag (the tool's own). std::invalid_argument
// naming the flag for a malformed value (not a whole number / not a positive finite number).
bool ParseEstimatorFlag(const std::string& flag, const std::string& value, EstimatorFlags& flags);

}  // namespace hypergrad

#endif  // HYPERGRAD_ESTIMATORS_REGISTRY_H_
