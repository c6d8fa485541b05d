#include "common/cli_checks.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "mlp.h"
#include "reversible_adam.h"

namespace hypergrad::experiments {
namespace {

std::string Number(double x) {
  std::ostringstream out;
  out << x;
  return out.str();
}

}  // namespace

CLI::Validator WholeNumber(std::uint64_t low, std::uint64_t high) {
  const std::string range = "a whole number in [" + std::to_string(low) + ", " + std::to_string(high) + "]";
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        std::uint64_t value = 0;
        bool ok = !text.empty() && text.size() <= 20 && text.find_first_not_of("0123456789") == std::string::npos;
        for (const char c : text) {
          if (!ok) break;
          ok = !__builtin_mul_overflow(value, std::uint64_t{10}, &value) &&
               !__builtin_add_overflow(value, static_cast<std::uint64_t>(c - '0'), &value);
        }
        if (!ok || value < low || value > high) return "expected " + range + ", got '" + text + "'";
        return {};
      },
      range);
}

CLI::Validator RealNumber(double low, double high, bool open) {
  const std::string range = open ? "a number in (" + Number(low) + ", " + Number(high) + ")"
                                 : "a number in [" + Number(low) + ", " + Number(high) + "]";
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        char* end = nullptr;
        const double x = text.empty() ? NAN : std::strtod(text.c_str(), &end);
        const bool parsed = !text.empty() && end != nullptr && *end == '\0' && std::isfinite(x);
        const bool inside = parsed && (open ? (x > low && x < high) : (x >= low && x <= high));
        if (!inside) return "expected " + range + ", got '" + text + "'";
        return {};
      },
      range);
}

CLI::Validator LayerSizes() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        try {
          MlpLayout::Parse(text);
        } catch (const std::exception& e) {
          return e.what();
        }
        return {};
      },
      "SIZES");
}

CLI::Option* AddSeedOption(CLI::App& app, std::uint64_t& seed, const std::string& help) {
  return app.add_option("--seed", seed, help + " (0 to 2^32 - 1)")
      ->transform(WholeNumber(0, kMaxSeed))
      ->capture_default_str();
}

CLI::Option* AddPassThreadsOption(CLI::App& app, unsigned& threads) {
  return app.add_option("--threads", threads,
                        "threads for each training and reverse step (results are the same bits "
                        "for any number)")
      ->transform(WholeNumber(1, 256))
      ->capture_default_str();
}

CLI::Option* AddTanhOption(CLI::App& app, std::string& name) {
  return app.add_option("--tanh", name,
                        "the hidden layers' tanh: libm (glibc's, every committed result) or "
                        "polynomial (vectorised, within 4 ulp of glibc's, faster; other bits)")
      ->check(CLI::IsMember({"libm", "polynomial"}))
      ->capture_default_str();
}

void CheckFitsInMemory(double bytes, const std::string& what) {
  const double memory = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGESIZE));
  if (memory > 0 && bytes > memory) {
    char text[160];
    std::snprintf(text, sizeof text, " need about %.3g GiB of memory; this machine has %.3g GiB",
                  bytes / 1073741824.0, memory / 1073741824.0);
    throw std::invalid_argument(what + text);
  }
}

void AddOptimizerOptions(CLI::App& app, OptimizerFlags& flags) {
  app.add_option("--optimizer", flags.optimizer,
                 "sgd: SGD with momentum (--gamma); adam: Adam (--beta1, --beta2, --eps), "
                 "w ← w − α·m̂/(√ŝ + ε) with bias-corrected m̂, ŝ and m_0 = s_0 = 0")
      ->check(CLI::IsMember({"sgd", "adam"}))
      ->capture_default_str();
  app.add_option("--gamma", flags.gamma, "momentum decay (sgd)")
      ->check(RealNumber(1e-6, 0.999999))
      ->capture_default_str();
  app.add_option("--beta1", flags.beta1, "decay of the first moment m (adam)")
      ->check(RealNumber(1e-6, 0.999999))
      ->capture_default_str();
  app.add_option("--beta2", flags.beta2, "decay of the second moment s (adam)")
      ->check(RealNumber(1e-6, 0.999999))
      ->capture_default_str();
  app.add_option("--eps", flags.eps,
                 "added to √ŝ in Adam's step (adam); at least 1e-12, the smallest for which the "
                 "second moment's fixed-point grid (2^-116) gives Adam's step for gradients down "
                 "to 1e-12")
      ->check(RealNumber(kAdamMinEps, kAdamMaxEps))
      ->capture_default_str();
}

}  // namespace hypergrad::experiments
