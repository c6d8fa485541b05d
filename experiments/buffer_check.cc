// buffer_check: Algorithm 3's exact momentum multiply, forward T steps and back, on random
// fixed-point values; reports whether every value came back bit for bit and how many bits the
// information buffer needed per value per step, against the entropy bound log2(d/n).
//
//   buffer_check --buffer fast --gamma 0.9 --steps 1000000 --params 100 --json
//
// Each step is v ← v·n/d (Algorithm 3) then v ← v − (1−γ)·g_t with g_t uniform in [−1, 1),
// as a gradient step would; the reverse pass regenerates g_t from (seed, t).
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <iostream>
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
  double gamma = 0.9;
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

int Run(const Options& options) {
  const MomentumRatio ratio = MomentumToRatio(options.gamma);
  const BufferKind kind = ParseBufferKind(options.buffer);
  const std::size_t p = options.params, steps = options.steps;
  CheckFitsInMemory(40.0 * static_cast<double>(p), "--params " + std::to_string(p) + ": the values");

  RandomStream init(options.seed, {0});
  std::vector<double> start(p), g(p);
  for (double& x : start) x = init.Normal();
  FixedPointVector v = FixedPointVector::FromDoubles(start);
  const FixedPointVector original = v;
  auto buffer = MakeInfoBuffer(kind, p);

  const bool show = !options.quiet;
  auto begin = std::chrono::steady_clock::now();
  Progress forward("forward", steps, show);
  double bits_at_half = 0.0;
  for (std::size_t t = 0; t < steps; ++t) {
    if (t == steps / 2) bits_at_half = buffer->InformationBits();
    MultiplyByRatio(v, {&ratio, 1}, *buffer);
    Gradient(options.seed, t, 1.0 - options.gamma, g);
    v.Sub(g);
    forward.Update(t + 1);
  }
  const double seconds_forward = Seconds(begin);
  const double bits = buffer->InformationBits();
  const std::size_t allocated = buffer->AllocatedBytes();

  begin = std::chrono::steady_clock::now();
  Progress reverse("reverse", steps, show);
  for (std::size_t t = steps; t-- > 0;) {
    Gradient(options.seed, t, 1.0 - options.gamma, g);
    v.Add(g);
    DivideByRatio(v, {&ratio, 1}, *buffer);
    reverse.Update(steps - t);
  }
  const double seconds_reverse = Seconds(begin);

  const bool bitwise_equal = v == original;
  const bool buffer_empty = buffer->Empty();
  const double entropy = std::log2(static_cast<double>(ratio.d) / ratio.n);
  const double per_step = bits / static_cast<double>(p * steps);
  const std::size_t late_steps = steps - steps / 2;
  const double steady = (bits - bits_at_half) / static_cast<double>(p * late_steps);

  nlohmann::ordered_json out;
  out["bitwise_equal"] = bitwise_equal;
  out["buffer_empty_after_reverse"] = buffer_empty;
  out["steps"] = steps;
  out["params"] = p;
  out["gamma"] = options.gamma;
  out["n"] = ratio.n;
  out["d"] = ratio.d;
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
  // fits: after (64 − log2 d) / log2(d/n) steps (≈ 316 at γ = 0.9).
  out["uint64_buffer_overflow_step"] = std::floor((64.0 - std::log2(ratio.d)) / entropy);
  out["seconds_forward"] = seconds_forward;
  out["seconds_reverse"] = seconds_reverse;
  if (options.json) {
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << "buffer " << options.buffer << ", gamma " << options.gamma << " (applied as "
              << ratio.n << "/" << ratio.d << "), " << p << " values, " << steps << " steps\n"
              << "  recovered bit for bit: " << (bitwise_equal ? "yes" : "NO")
              << "; buffer empty afterwards: " << (buffer_empty ? "yes" : "NO") << "\n"
              << "  bits per value per step: " << per_step << " overall, " << steady
              << " over the second half; entropy bound log2(d/n) = " << entropy << "\n"
              << "  allocated: " << allocated << " bytes ("
              << out["allocated_bytes_per_param"].get<double>() << " per value)\n"
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
  app.add_option("--gamma", options.gamma, "momentum decay γ, in (0, 2)")
      ->check(RealNumber(0.0, 2.0, /*open=*/true));
  app.add_option("--buffer", options.buffer, "information buffer")
      ->check(CLI::IsMember({"exact", "fast"}));
  hypergrad::experiments::AddSeedOption(app, options.seed, "seed of the initial values and gradients");
  app.add_flag("--json", options.json, "print one JSON object on stdout");
  app.add_flag("--quiet", options.quiet, "no progress lines on stderr");
  return hypergrad::experiments::GuardedMain(app, argc, argv,
                                             [&] { return hypergrad::experiments::Run(options); });
}
