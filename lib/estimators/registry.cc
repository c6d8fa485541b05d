#include "estimators/registry.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <stdexcept>

#include "estimators/cg.h"
#include "estimators/drmad.h"
#include "estimators/es.h"
#include "estimators/exact.h"
#include "estimators/forward_mode.h"
#include "estimators/greedy.h"
#include "estimators/neumann.h"
#include "estimators/perturbation.h"
#include "estimators/pes.h"
#include "estimators/truncated.h"

namespace hypergrad {

namespace {

// The defaults of the flags (registry.h's table).
constexpr std::size_t kDefaultTruncation = 10, kDefaultTerms = 20, kDefaultSamples = 16;
constexpr double kDefaultSigma = 0.01;

// One flag an estimator takes and the whole numbers it accepts (--sigma and --tolerance are
// checked where they are parsed: their ranges do not depend on the estimator).
struct Flag {
  std::string name;
  std::size_t min = 0, max = 0;
};

struct Entry {
  std::string name;
  std::vector<Flag> flags;
  bool draws_noise;  // uses EstimatorFlags::seed
  bool needs_theta;  // gives a signal for θ only
  // Given flags completed by Complete(): every flag the estimator takes is set.
  std::function<std::unique_ptr<Estimator>(const EstimatorFlags&)> make;
};

const std::vector<Entry>& Table() {
  static const std::vector<Entry> table = {
      {"exact", {}, false, false,
       [](const EstimatorFlags& f) { return std::make_unique<ExactEstimator>(f.exact_options); }},
      {"truncated", {{"--truncation", 0, kMaxTruncation}}, false, false,
       [](const EstimatorFlags& f) {
         return std::make_unique<TruncatedEstimator>(*f.truncation, f.exact_options);
       }},
      {"drmad", {}, false, false, [](const EstimatorFlags&) { return std::make_unique<DrmadEstimator>(); }},
      {"neumann", {{"--terms", 0, kMaxNeumannTerms}}, false, true,
       [](const EstimatorFlags& f) { return std::make_unique<NeumannEstimator>(*f.terms); }},
      {"cg", {{"--terms", 1, kMaxCgIterations}, {"--tolerance"}}, false, true,
       [](const EstimatorFlags& f) { return std::make_unique<CgEstimator>(*f.terms, *f.tolerance); }},
      {"forward", {}, false, false, [](const EstimatorFlags&) { return std::make_unique<ForwardModeEstimator>(); }},
      {"greedy", {}, false, false, [](const EstimatorFlags&) { return std::make_unique<GreedyEstimator>(); }},
      {"es", {{"--samples", 1, kMaxSamples}, {"--sigma"}}, true, false,
       [](const EstimatorFlags& f) {
         return std::make_unique<EsEstimator>(*f.samples, *f.sigma, f.seed);
       }},
      {"pes", {{"--truncation", 1, kMaxTruncation}, {"--samples", 1, kMaxSamples}, {"--sigma"}}, true, false,
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

const Flag* Takes(const Entry& entry, const std::string& flag) {
  for (const Flag& f : entry.flags) {
    if (f.name == flag) return &f;
  }
  return nullptr;
}

// "--sigma: expected a number in [1e-10, 1], got '0'".
std::string RangeText(double lo, double hi) {
  char text[64];
  std::snprintf(text, sizeof text, "[%g, %g]", lo, hi);
  return text;
}

}  // namespace

std::vector<std::string> EstimatorNames() {
  std::vector<std::string> names;
  for (const Entry& e : Table()) names.push_back(e.name);
  return names;
}

std::vector<std::string> EstimatorFlagNames(const std::string& name) {
  std::vector<std::string> names;
  for (const Flag& f : Find(name).flags) names.push_back(f.name);
  return names;
}

EstimatorFlags CompleteEstimatorFlags(const std::string& name, const EstimatorFlags& flags) {
  const Entry& entry = Find(name);
  const std::pair<const char*, bool> given[] = {{"--truncation", flags.truncation.has_value()},
                                                {"--terms", flags.terms.has_value()},
                                                {"--samples", flags.samples.has_value()},
                                                {"--sigma", flags.sigma.has_value()},
                                                {"--tolerance", flags.tolerance.has_value()}};
  for (const auto& [flag, is_given] : given) {
    if (is_given && Takes(entry, flag) == nullptr) {
      throw std::invalid_argument("estimator '" + name + "' takes no " + flag);
    }
  }
  EstimatorFlags out = flags;
  auto whole = [&](const char* flag, std::optional<std::size_t>& value, std::size_t fallback) {
    const Flag* f = Takes(entry, flag);
    if (f == nullptr) return;
    value = value.value_or(fallback);
    if (*value < f->min || *value > f->max) {
      throw std::invalid_argument(std::string(flag) + ": expected a whole number in [" +
                                  std::to_string(f->min) + ", " + std::to_string(f->max) +
                                  "] for --estimator " + name + ", got " + std::to_string(*value));
    }
  };
  whole("--truncation", out.truncation, kDefaultTruncation);
  whole("--terms", out.terms, kDefaultTerms);
  whole("--samples", out.samples, kDefaultSamples);
  auto real = [&](const char* flag, std::optional<double>& value, double fallback, double lo, double hi) {
    if (Takes(entry, flag) == nullptr) return;
    value = value.value_or(fallback);
    if (!(*value >= lo && *value <= hi)) {
      char got[32];
      std::snprintf(got, sizeof got, "%g", *value);
      throw std::invalid_argument(std::string(flag) + ": expected a number in " + RangeText(lo, hi) +
                                  " for --estimator " + name + ", got " + got);
    }
  };
  real("--sigma", out.sigma, kDefaultSigma, kMinSigma, kMaxSigma);
  real("--tolerance", out.tolerance, kDefaultCgTolerance, kMinCgTolerance, kMaxCgTolerance);
  return out;
}

bool EstimatorNeedsTheta(const std::string& name) { return Find(name).needs_theta; }

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
  // A number in [lo, hi]: NaN, ±inf, values that overflow or underflow (denormals) and anything
  // not entirely a number are refused with the range.
  auto real = [&](double lo, double hi) {
    std::size_t used = 0;
    double x = 0;
    try {
      x = std::stod(value, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (value.empty() || used != value.size() || !(x >= lo && x <= hi)) {
      throw std::invalid_argument(flag + ": expected a number in " + RangeText(lo, hi) + ", got '" +
                                  value + "'");
    }
    return x;
  };
  if (flag == "--truncation") {
    flags.truncation = whole();
  } else if (flag == "--terms") {
    flags.terms = whole();
  } else if (flag == "--samples") {
    flags.samples = whole();
  } else if (flag == "--sigma") {
    flags.sigma = real(kMinSigma, kMaxSigma);
  } else if (flag == "--tolerance") {
    flags.tolerance = real(kMinCgTolerance, kMaxCgTolerance);
  } else {
    return false;
  }
  return true;
}

}  // namespace hypergrad
