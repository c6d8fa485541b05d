#include "estimators/registry.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>

#include "estimators/cg.h"
#include "estimators/drmad.h"
#include "estimators/es.h"
#include "estimators/exact.h"
#include "estimators/forward_mode.h"
#include "estimators/greedy.h"
#include "estimators/neumann.h"
#include "estimators/pes.h"
#include "estimators/truncated.h"

namespace hypergrad {

namespace {

// The defaults of the flags (registry.h's table).
constexpr std::size_t kDefaultTruncation = 10, kDefaultTerms = 20, kDefaultSamples = 16;
constexpr double kDefaultSigma = 0.01;

struct Entry {
  std::string name;
  std::vector<std::string> flags;
  bool draws_noise;  // uses EstimatorFlags::seed
  // Given flags completed by Complete(): every flag the estimator takes is set.
  std::function<std::unique_ptr<Estimator>(const EstimatorFlags&)> make;
};

const std::vector<Entry>& Table() {
  static const std::vector<Entry> table = {
      {"exact", {}, false, [](const EstimatorFlags& f) { return std::make_unique<ExactEstimator>(f.exact_options); }},
      {"truncated", {"--truncation"}, false,
       [](const EstimatorFlags& f) {
         return std::make_unique<TruncatedEstimator>(*f.truncation, f.exact_options);
       }},
      {"drmad", {}, false, [](const EstimatorFlags&) { return std::make_unique<DrmadEstimator>(); }},
      {"neumann", {"--terms"}, false,
       [](const EstimatorFlags& f) { return std::make_unique<NeumannEstimator>(*f.terms); }},
      {"cg", {"--terms"}, false,
       [](const EstimatorFlags& f) { return std::make_unique<CgEstimator>(*f.terms); }},
      {"forward", {}, false, [](const EstimatorFlags&) { return std::make_unique<ForwardModeEstimator>(); }},
      {"greedy", {}, false, [](const EstimatorFlags&) { return std::make_unique<GreedyEstimator>(); }},
      {"es", {"--samples", "--sigma"}, true,
       [](const EstimatorFlags& f) {
         return std::make_unique<EsEstimator>(*f.samples, *f.sigma, f.seed);
       }},
      {"pes", {"--truncation", "--samples", "--sigma"}, true,
       [](const EstimatorFlags& f) {
         return std::make_unique<PesEstimator>(*f.truncation, *f.samples, *f.sigma, f.seed);
       }},
  };
  return table;
}

const Entry& Find(const std::string& name) {
  for (const Entry& e : Table()) {
    if (e.name == name) return e;
  }
  std::string known;
  for (const Entry& e : Table()) known += (known.empty() ? "" : ", ") + e.name;
  throw std::invalid_argument("unknown estimator '" + name + "' (known: " + known + ")");
}

}  // namespace

std::vector<std::string> EstimatorNames() {
  std::vector<std::string> names;
  for (const Entry& e : Table()) names.push_back(e.name);
  return names;
}

std::vector<std::string> EstimatorFlagNames(const std::string& name) { return Find(name).flags; }

EstimatorFlags CompleteEstimatorFlags(const std::string& name, const EstimatorFlags& flags) {
  const Entry& entry = Find(name);
  auto takes = [&](const char* flag) {
    return std::find(entry.flags.begin(), entry.flags.end(), flag) != entry.flags.end();
  };
  const std::pair<const char*, bool> given[] = {{"--truncation", flags.truncation.has_value()},
                                                {"--terms", flags.terms.has_value()},
                                                {"--samples", flags.samples.has_value()},
                                                {"--sigma", flags.sigma.has_value()}};
  for (const auto& [flag, is_given] : given) {
    if (is_given && !takes(flag)) {
      throw std::invalid_argument("estimator '" + name + "' takes no " + flag);
    }
  }
  EstimatorFlags out = flags;
  if (takes("--truncation")) out.truncation = flags.truncation.value_or(kDefaultTruncation);
  if (takes("--terms")) out.terms = flags.terms.value_or(kDefaultTerms);
  if (takes("--samples")) out.samples = flags.samples.value_or(kDefaultSamples);
  if (takes("--sigma")) out.sigma = flags.sigma.value_or(kDefaultSigma);
  return out;
}

bool EstimatorDrawsNoise(const std::string& name) { return Find(name).draws_noise; }

std::unique_ptr<Estimator> MakeEstimator(const std::string& name, const EstimatorFlags& flags) {
  return Find(name).make(CompleteEstimatorFlags(name, flags));
}

bool ParseEstimatorFlag(const std::string& flag, const std::string& value, EstimatorFlags& flags) {
  auto whole = [&]() -> std::size_t {
    if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos ||
        value.size() > 18) {
      throw std::invalid_argument(flag + ": expected a whole number, got '" + value + "'");
    }
    return std::stoull(value);
  };
  if (flag == "--truncation") {
    flags.truncation = whole();
  } else if (flag == "--terms") {
    flags.terms = whole();
  } else if (flag == "--samples") {
    flags.samples = whole();
  } else if (flag == "--sigma") {
    std::size_t used = 0;
    double s = 0;
    try {
      s = std::stod(value, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != value.size() || value.empty() || !std::isfinite(s) || !(s > 0)) {
      throw std::invalid_argument("--sigma: expected a positive finite number, got '" + value + "'");
    }
    flags.sigma = s;
  } else {
    return false;
  }
  return true;
}

}  // namespace hypergrad
