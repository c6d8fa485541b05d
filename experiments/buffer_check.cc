// buffer_check: Algorithm 3's exact momentum multiply, forward T steps and back, on random
// fixed-point values; reports whether every value came back bit for bit and how many bits the
// information buffer needed per value per step, against the entropy bound log2(d/n).
//
//   buffer_check --buffer fast --gamma 0.9 --steps 1000000 --params 100 --json
//
// The values are the moments of a registered optimizer (--optimizer, its flags, ranges, help and
// refusals from optimizers/registry.h), each moment with its own buffer, decayed by its flag's
// ratio n/d and moved by a gradient-like g_t uniform in [−1, 1) (regenerated from (seed, t) in
// the reverse pass), as that optimizer's step would move it (MomentModels() below):
//   sgd      v ← v·γ − (1−γ)·g_t
//   adam     m ← m·β1 + (1−β1)·g_t;  s ← s·β2 + (1−β2)·g_t²
//   rmsprop  s ← s·ρ + (1−ρ)·g_t²;   m ← m·μ + (1−μ)·g_t/√(s + ε)   (the new s; undone m first)
// With two moments the bits are reported per parameter (both moments) and per moment. The
// values sit on w's grid (2^-52) for every optimizer: a step's bits are log2(d/n) whatever the
// grid (the digits Algorithm 3 saves and takes are < d and < n).
//
//   buffer_check --optimizer adam --beta1 0.9 --beta2 0.999 --steps 100000 --json
//   buffer_check --optimizer rmsprop --rho 0.999 --mu 0.9 --steps 100000 --json
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/cli_checks.h"
#include "common/guarded_main.h"
#include "common/progress.h"
#include "reversible/algorithm3.h"
#include "optimizers/registry.h"
#include "random/random.h"

namespace hypergrad::experiments {
namespace {

struct Options {
  std::size_t params = 100;
  std::size_t steps = 1000;
  OptimizerFlags optimizer_flags;  // --optimizer and its flags
  std::string buffer = "fast";
  std::uint64_t seed = 0;
  bool json = false;
  bool quiet = false;
};

// How a moment's increment is formed from g_t (uniform in [−1, 1)), with c = 1 − its decay.
enum class MomentInput {
  kMinusGradient,     // −c·g (SGD's velocity)
  kGradient,          // c·g (Adam's m)
  kSquare,            // c·g² (Adam's s, RMSprop's s)
  kGradientOverRoot,  // c·g/√(s + ε), s the moment before it at its new value (RMSprop's m)
};

// One moment of an optimizer as buffer_check moves it: its name and the flag of its decay.
struct MomentModel {
  std::string name, decay_flag;
  MomentInput input;
};

// The moments of each registered optimizer, in the optimizer's order (exact_optimizer.h).
const std::map<std::string, std::vector<MomentModel>>& MomentModels() {
  static const std::map<std::string, std::vector<MomentModel>> models = {
      {"sgd", {{"v", "gamma", MomentInput::kMinusGradient}}},
      {"adam", {{"m", "beta1", MomentInput::kGradient}, {"s", "beta2", MomentInput::kSquare}}},
      {"rmsprop",
       {{"s", "rho", MomentInput::kSquare}, {"m", "mu", MomentInput::kGradientOverRoot}}},
  };
  return models;
}

// The gradient-like vector of step t, regenerated identically in the reverse pass.
void Gradient(std::uint64_t seed, std::size_t t, double scale, std::vector<double>& g) {
  RandomStream rng(seed, {1, t});
  for (double& x : g) x = scale * (2.0 * rng.Uniform() - 1.0);
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// One vector of values decayed by Algorithm 3, with its own buffer: one moment of the optimizer.
struct Moment {
  std::string name;
  double decay = 0.0;
  MomentInput input = MomentInput::kGradient;
  DecayRatio ratio{};
  FixedPointVector values, original;
  std::unique_ptr<InfoBuffer> buffer;
  double bits_at_half = 0.0;

  // The magnitude of step t's increment (the sign: subtract()), regenerated identically in the
  // reverse pass. `before` is the moment before this one, at its value after step t.
  void Increment(std::uint64_t seed, std::size_t t, const Moment* before, double eps,
                 std::vector<double>& g) const {
    const bool scaled_first = input == MomentInput::kMinusGradient || input == MomentInput::kGradient;
    Gradient(seed, t, scaled_first ? 1.0 - decay : 1.0, g);
    if (input == MomentInput::kSquare) {
      for (double& x : g) x = (1.0 - decay) * x * x;
    } else if (input == MomentInput::kGradientOverRoot) {
      const std::vector<double> s = before->values.Values();
      for (std::size_t k = 0; k < g.size(); ++k) g[k] = (1.0 - decay) * (g[k] / std::sqrt(s[k] + eps));
    }
  }
  bool subtract() const { return input == MomentInput::kMinusGradient; }
};

// The optimizer's flags that `models` reads: the decays, and eps where a moment takes a root.
std::vector<std::string> FlagsRead(const std::vector<MomentModel>& models) {
  std::vector<std::string> flags;
  bool eps = false;
  for (const MomentModel& m : models) {
    flags.push_back(m.decay_flag);
    eps = eps || m.input == MomentInput::kGradientOverRoot;
  }
  if (eps) flags.push_back("eps");
  return flags;
}

int Run(const Options& options, const std::set<std::string>& given_flags) {
  const BufferKind kind = ParseBufferKind(options.buffer);
  const std::size_t p = options.params, steps = options.steps;
  const std::string& optimizer = options.optimizer_flags.optimizer;
  const auto model = MomentModels().find(optimizer);
  if (model == MomentModels().end()) {
    throw std::invalid_argument("buffer_check has no moment model of optimizer '" + optimizer +
                                "' (MomentModels() in buffer_check.cc)");
  }
  const std::map<std::string, double> settings = options.optimizer_flags.Chosen();
  const std::vector<std::string> read = FlagsRead(model->second);
  for (const std::string& flag : given_flags) {
    if (settings.count(flag) != 0 && std::find(read.begin(), read.end(), flag) == read.end()) {
      throw std::invalid_argument("--" + flag + " does not enter the moments of --optimizer " +
                                  optimizer + ", so buffer_check has no use for it");
    }
  }
  const double eps = settings.count("eps") != 0 ? settings.at("eps") : 0.0;
  CheckFitsInMemory(40.0 * static_cast<double>(model->second.size() * p),
                    "--params " + std::to_string(p) + ": the values");

  std::vector<Moment> moments;
  for (const MomentModel& m : model->second) {
    const double decay = settings.at(m.decay_flag);
    moments.push_back({m.name, decay, m.input, DecayToRatio(decay)});
  }
  RandomStream init(options.seed, {0});
  std::vector<double> start(p), g(p);
  for (Moment& m : moments) {
    const bool squared = m.input == MomentInput::kSquare;
    for (double& x : start) x = squared ? std::pow(init.Normal(), 2) : init.Normal();
    m.values = m.original = FixedPointVector::FromDoubles(start);
    m.buffer = MakeInfoBuffer(kind, p);
  }
  const auto before = [&](std::size_t i) { return i > 0 ? &moments[i - 1] : nullptr; };

  const bool show = !options.quiet;
  auto begin = std::chrono::steady_clock::now();
  Progress forward("forward", steps, show);
  for (std::size_t t = 0; t < steps; ++t) {
    for (std::size_t i = 0; i < moments.size(); ++i) {
      Moment& m = moments[i];
      if (t == steps / 2) m.bits_at_half = m.buffer->InformationBits();
      MultiplyByRatio(m.values, {&m.ratio, 1}, *m.buffer);
      m.Increment(options.seed, t, before(i), eps, g);
      if (m.subtract()) {
        m.values.Sub(g);
      } else {
        m.values.Add(g);
      }
    }
    forward.Update(t + 1);
  }
  const double seconds_forward = Seconds(begin);
  double bits = 0.0, bits_at_half = 0.0, entropy = 0.0;
  std::size_t allocated = 0;
  for (const Moment& m : moments) {
    bits += m.buffer->InformationBits();
    bits_at_half += m.bits_at_half;
    entropy += std::log2(static_cast<double>(m.ratio.d) / m.ratio.n);
    allocated += m.buffer->AllocatedBytes();
  }
  const std::size_t late_steps = steps - steps / 2;
  nlohmann::ordered_json per_moment;
  for (const Moment& m : moments) {
    per_moment[m.name] = {
        {"decay", m.decay},
        {"n", m.ratio.n},
        {"d", m.ratio.d},
        {"info_bits_per_param_per_step", m.buffer->InformationBits() / double(p * steps)},
        {"steady_info_bits_per_param_per_step",
         (m.buffer->InformationBits() - m.bits_at_half) / double(p * late_steps)},
        {"entropy_bits_per_param_per_step", std::log2(double(m.ratio.d) / m.ratio.n)}};
  }

  begin = std::chrono::steady_clock::now();
  Progress reverse("reverse", steps, show);
  for (std::size_t t = steps; t-- > 0;) {
    for (std::size_t i = moments.size(); i-- > 0;) {  // the last moment first
      Moment& m = moments[i];
      m.Increment(options.seed, t, before(i), eps, g);
      if (m.subtract()) {
        m.values.Add(g);
      } else {
        m.values.Sub(g);
      }
      DivideByRatio(m.values, {&m.ratio, 1}, *m.buffer);
    }
    reverse.Update(steps - t);
  }
  const double seconds_reverse = Seconds(begin);

  bool bitwise_equal = true, buffer_empty = true;
  for (const Moment& m : moments) {
    bitwise_equal = bitwise_equal && m.values == m.original;
    buffer_empty = buffer_empty && m.buffer->Empty();
  }
  const double per_step = bits / static_cast<double>(p * steps);
  const double steady = (bits - bits_at_half) / static_cast<double>(p * late_steps);
  const DecayRatio ratio = moments.front().ratio;  // SGD's one ratio

  nlohmann::ordered_json out;
  out["bitwise_equal"] = bitwise_equal;
  out["buffer_empty_after_reverse"] = buffer_empty;
  out["optimizer"] = optimizer;
  out["steps"] = steps;
  out["params"] = p;
  for (const std::string& flag : read) out[flag] = settings.at(flag);
  if (moments.size() > 1) {
    out["moments"] = per_moment;
  } else {
    out["n"] = ratio.n;
    out["d"] = ratio.d;
  }
  out["buffer"] = options.buffer;
  out["seed"] = options.seed;
  out["info_bits_per_param_per_step"] = per_step;
  out["steady_info_bits_per_param_per_step"] = steady;
  out["entropy_bits_per_param_per_step"] = entropy;
  out["info_bits_ratio_to_entropy"] = per_step / entropy;
  out["steady_ratio_to_entropy"] = steady / entropy;
  out["allocated_bytes"] = allocated;
  out["allocated_bytes_per_param"] = static_cast<double>(allocated) / static_cast<double>(p);
  // A plain uint64 buffer (the authors' integer without growth) overflows once B·d no longer
  // fits: after (64 − log2 d) / log2(d/n) steps (≈ 316 at γ = 0.9), for the moment whose buffer
  // fills first.
  double overflow_step = INFINITY;
  for (const Moment& m : moments) {
    const double bits_per_step = std::log2(static_cast<double>(m.ratio.d) / m.ratio.n);
    overflow_step =
        std::min(overflow_step, std::floor((64.0 - std::log2(m.ratio.d)) / bits_per_step));
  }
  out["uint64_buffer_overflow_step"] = overflow_step;
  out["seconds_forward"] = seconds_forward;
  out["seconds_reverse"] = seconds_reverse;
  if (options.json) {
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << "buffer " << options.buffer << ", " << optimizer;
    for (const Moment& m : moments) {
      std::cout << ", " << m.name << " decay " << m.decay << " (applied as " << m.ratio.n << "/"
                << m.ratio.d << ")";
    }
    std::cout << ", " << p << " parameters, " << steps << " steps\n"
              << "  recovered bit for bit: " << (bitwise_equal ? "yes" : "NO")
              << "; buffer empty afterwards: " << (buffer_empty ? "yes" : "NO") << "\n"
              << "  bits per parameter per step: " << per_step << " overall, " << steady
              << " over the second half; entropy bound Σ log2(d/n) = " << entropy << "\n"
              << "  allocated: " << allocated << " bytes ("
              << out["allocated_bytes_per_param"].get<double>() << " per parameter)\n"
              << "  time: forward " << seconds_forward << " s, reverse " << seconds_reverse
              << " s\n";
  }
  return ReversalVerdict("buffer_check", bitwise_equal && buffer_empty,
                         "restore the initial values and an empty buffer");
}

}  // namespace
}  // namespace hypergrad::experiments

int main(int argc, char** argv) {
  using namespace hypergrad::experiments;
  Options options;
  CLI::App app{
      "Runs Algorithm 3 (exact multiplication by the momentum ratio n/d with an information "
      "buffer) forward for T steps on an optimizer's moments, random fixed-point values moved "
      "by a random gradient-like vector each step as the optimizer moves them, then backward, "
      "and checks that every value is recovered bit for bit. Reports bits stored per value per "
      "step against log2(d/n).",
      "buffer_check"};
  app.add_option("--params", options.params, "number of fixed-point values (P)")
      ->transform(WholeNumber(1, std::uint64_t{1} << 32));
  app.add_option("--steps", options.steps, "number of momentum steps (T)")
      ->transform(WholeNumber(1, std::uint64_t{1} << 40));
  AddOptimizerOptions(app, options.optimizer_flags);
  AddBufferOption(app, options.buffer);
  AddSeedOption(app, options.seed, "seed of the initial values and gradients");
  AddJsonAndQuietFlags(app, options.json, options.quiet);
  return GuardedMain(app, argc, argv, [&] {
    std::set<std::string> given;  // the optimizer flags given on the command line
    for (const auto& [name, value] : options.optimizer_flags.values) {
      if (app.count("--" + name) > 0) given.insert(name);
    }
    return hypergrad::experiments::Run(options, given);
  });
}
