// buffer_check: Algorithm 3's exact momentum multiply, forward T steps and back, on random
// fixed-point values; reports whether every value came back bit for bit and how many bits the
// information buffer needed per value per step, against the entropy bound log2(d/n).
//
//   buffer_check --buffer fast --gamma 0.9 --steps 1000000 --params 100 --json
//
// Each step is v ← v·n/d (Algorithm 3) then v ← v − (1−γ)·g_t with g_t uniform in [−1, 1),
// as a gradient step would; the reverse pass regenerates g_t from (seed, t). With
// --optimizer adam the values are Adam's two moments per parameter, each with its own buffer:
// m ← m·β1 + (1−β1)·g_t and s ← s·β2 + (1−β2)·g_t² (the decays as ratios n/d); the bits are
// reported per parameter (both moments) and per moment.
//
//   buffer_check --optimizer adam --beta1 0.9 --beta2 0.999 --steps 100000 --json
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <iostream>
#include <memory>
#include <string>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/cli_checks.h"
#include "common/guarded_main.h"
#include "common/progress.h"
#include "exact_momentum.h"
#include "random.h"

namespace hypergrad::experiments {
namespace {

struct Options {
  std::size_t params = 100;
  std::size_t steps = 1000;
  std::string optimizer = "sgd";
  double gamma = 0.9;
  double beta1 = 0.9, beta2 = 0.999;
  std::string buffer = "fast";
  std::uint64_t seed = 0;
  bool json = false;
  bool quiet = false;
};

// The gradient-like vector of step t, regenerated identically in the reverse pass.
void Gradient(std::uint64_t seed, std::size_t t, double scale, std::vector<double>& g) {
  RandomStream rng(seed, {1, t});
  for (double& x : g) x = scale * (2.0 * rng.Uniform() - 1.0);
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// One vector of values decayed by Algorithm 3, with its own buffer: SGD's velocity, or one of
// Adam's moments.
struct Moment {
  std::string name;
  double decay = 0.0;
  MomentumRatio ratio{};
  bool squared = false;  // the increment is (1−decay)·g² (Adam's s), else (1−decay)·g
  bool subtract = false;  // SGD's v ← γv − (1−γ)g
  FixedPointVector values, original;
  std::unique_ptr<InfoBuffer> buffer;
  double bits_at_half = 0.0;

  // (1−decay)·g or (1−decay)·g² of step t, regenerated identically in the reverse pass.
  void Increment(std::uint64_t seed, std::size_t t, std::vector<double>& g) const {
    Gradient(seed, t, squared ? 1.0 : 1.0 - decay, g);
    if (squared) {
      for (double& x : g) x = (1.0 - decay) * x * x;
    }
  }
};

int Run(const Options& options) {
  const BufferKind kind = ParseBufferKind(options.buffer);
  const std::size_t p = options.params, steps = options.steps;
  const bool adam = options.optimizer == "adam";
  CheckFitsInMemory((adam ? 80.0 : 40.0) * static_cast<double>(p),
                    "--params " + std::to_string(p) + ": the values");

  std::vector<Moment> moments;
  if (adam) {
    moments.push_back({"m", options.beta1, MomentumToRatio(options.beta1)});
    moments.push_back({"s", options.beta2, MomentumToRatio(options.beta2), true});
  } else {
    moments.push_back({"v", options.gamma, MomentumToRatio(options.gamma), false, true});
  }
  RandomStream init(options.seed, {0});
  std::vector<double> start(p), g(p);
  for (Moment& m : moments) {
    for (double& x : start) x = m.squared ? std::pow(init.Normal(), 2) : init.Normal();
    m.values = m.original = FixedPointVector::FromDoubles(start);
    m.buffer = MakeInfoBuffer(kind, p);
  }

  const bool show = !options.quiet;
  auto begin = std::chrono::steady_clock::now();
  Progress forward("forward", steps, show);
  for (std::size_t t = 0; t < steps; ++t) {
    for (Moment& m : moments) {
      if (t == steps / 2) m.bits_at_half = m.buffer->InformationBits();
      MultiplyByRatio(m.values, {&m.ratio, 1}, *m.buffer);
      m.Increment(options.seed, t, g);
      if (m.subtract) {
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
    for (auto m = moments.rbegin(); m != moments.rend(); ++m) {
      m->Increment(options.seed, t, g);
      if (m->subtract) {
        m->values.Add(g);
      } else {
        m->values.Sub(g);
      }
      DivideByRatio(m->values, {&m->ratio, 1}, *m->buffer);
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
  const MomentumRatio ratio = moments.front().ratio;

  nlohmann::ordered_json out;
  out["bitwise_equal"] = bitwise_equal;
  out["buffer_empty_after_reverse"] = buffer_empty;
  out["optimizer"] = options.optimizer;
  out["steps"] = steps;
  out["params"] = p;
  if (adam) {
    out["beta1"] = options.beta1;
    out["beta2"] = options.beta2;
    out["moments"] = per_moment;
  } else {
    out["gamma"] = options.gamma;
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
  // fits: after (64 − log2 d) / log2(d/n) steps (≈ 316 at γ = 0.9; the fastest-filling moment
  // for Adam).
  const double fastest = std::log2(static_cast<double>(ratio.d) / ratio.n);
  out["uint64_buffer_overflow_step"] = std::floor((64.0 - std::log2(ratio.d)) / fastest);
  out["seconds_forward"] = seconds_forward;
  out["seconds_reverse"] = seconds_reverse;
  if (options.json) {
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << "buffer " << options.buffer << ", " << options.optimizer;
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
  if (!bitwise_equal || !buffer_empty) {
    std::cerr << "buffer_check: error: the reverse pass did not restore the initial values "
                 "and an empty buffer\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace hypergrad::experiments

int main(int argc, char** argv) {
  using hypergrad::experiments::Options;
  Options options;
  CLI::App app{
      "Runs Algorithm 3 (exact multiplication by the momentum ratio n/d with an information "
      "buffer) forward for T steps on random fixed-point values, subtracting a random "
      "gradient-like vector each step, then backward, and checks that every value is "
      "recovered bit for bit. Reports bits stored per value per step against log2(d/n).",
      "buffer_check"};
  using hypergrad::experiments::RealNumber;
  using hypergrad::experiments::WholeNumber;
  app.add_option("--params", options.params, "number of fixed-point values (P)")
      ->transform(WholeNumber(1, std::uint64_t{1} << 32));
  app.add_option("--steps", options.steps, "number of momentum steps (T)")
      ->transform(WholeNumber(1, std::uint64_t{1} << 40));
  app.add_option("--optimizer", options.optimizer,
                 "sgd: one velocity per parameter (--gamma); adam: the moments m and s (--beta1, "
                 "--beta2)")
      ->check(CLI::IsMember({"sgd", "adam"}));
  app.add_option("--gamma", options.gamma, "momentum decay γ, in (0, 2)")
      ->check(RealNumber(0.0, 2.0, /*open=*/true));
  app.add_option("--beta1", options.beta1, "Adam's first-moment decay β1, in (0, 1)")
      ->check(RealNumber(0.0, 1.0, /*open=*/true));
  app.add_option("--beta2", options.beta2, "Adam's second-moment decay β2, in (0, 1)")
      ->check(RealNumber(0.0, 1.0, /*open=*/true));
  app.add_option("--buffer", options.buffer, "information buffer")
      ->check(CLI::IsMember({"exact", "fast"}));
  hypergrad::experiments::AddSeedOption(app, options.seed, "seed of the initial values and gradients");
  app.add_flag("--json", options.json, "print one JSON object on stdout");
  app.add_flag("--quiet", options.quiet, "no progress lines on stderr");
  app.final_callback([&] { hypergrad::experiments::RefuseOtherOptimizersFlags(app, options.optimizer); });
  return hypergrad::experiments::GuardedMain(app, argc, argv,
                                             [&] { return hypergrad::experiments::Run(options); });
}
