// buffer_check: Algorithm 3's exact momentum multiply, forward T steps and back, on random
// fixed-point values; reports whether every value came back bit for bit and how many bits the
// information buffer needed per value per step, against the entropy bound log2(d/n).
//
//   buffer_check --buffer fast --gamma 0.9 --steps 1000000 --params 100 --json
//
// The values are the moments of a registered optimizer (--optimizer, its flags, ranges, help and
// refusals from optimizers/registry.h), moved as that optimizer's own step moves them, read from
// the optimizer itself (exact_optimizer.h), so a new optimizer needs nothing here: moment i is
//   u_i ← r_i·u_i + c_i·φ_i(g_t, u)
// with the ratios r_i = n/d and increments c_i of its Coefficients, its inputs φ (MomentInputs,
// staged as its MomentStages say), on its moments' own grid (MomentFormat), where g_t is a
// gradient-like vector uniform in [−1, 1) regenerated from (seed, t) in the reverse pass:
//   sgd      v ← γ·v − (1−γ)·g_t                                       (w's grid, 2^-52)
//   adam     m ← β1·m + (1−β1)·g_t;  s ← β2·s + (1−β2)·g_t²             (2^-116)
//   rmsprop  s ← ρ·s + (1−ρ)·g_t²;   m ← μ·m + (1−μ)·g_t/√(s + ε), the new s   (2^-116)
// The moments start at φ(g_0') for one more such draw g_0' (SGD: v_0 = g_0', a standard normal
// here); each has its own buffer, so the bits are reported per parameter (all moments) and per
// moment. A step's bits are log2(d/n) whatever the grid (the digits Algorithm 3 saves and takes
// are < d and < n). The flags that do not enter the moments (OptimizerFlag::enters_moments:
// Adam's ε) are refused; α plays no part.
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
#include <stdexcept>
#include <string>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/cli_checks.h"
#include "common/guarded_main.h"
#include "common/progress.h"
#include "common/provenance_json.h"
#include "reversible/algorithm3.h"
#include "optimizers/registry.h"
#include "random/random.h"
#include "results/provenance.h"
#include "runtime/large_buffer.h"

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

// The gradient-like vector of step t, uniform in [−1, 1), regenerated identically in the
// reverse pass.
void Gradient(std::uint64_t seed, std::size_t t, std::vector<double>& g) {
  RandomStream rng(seed, {1, t});
  for (double& x : g) x = 2.0 * rng.Uniform() - 1.0;
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// One moment vector of the optimizer, decayed by Algorithm 3 with its own buffer.
struct Moment {
  std::string name;
  double decay = 0.0;  // r_i as the optimizer gives it (a flag's value)
  DecayRatio ratio{};  // r_i as Algorithm 3 applies it
  std::span<const double> increment;  // c_i, P values
  MomentVector values, original;
  std::unique_ptr<InfoBuffer> buffer;
  double bits_at_half = 0.0;
};

// The moments and their inputs as the optimizer defines them: the inputs of `stage` of step g
// added to (sign +1) or subtracted from (−1) the moments, reading `u` (all K·P values, the
// moments before the stage at their new values) and refreshing it afterwards.
class MomentMover {
 public:
  MomentMover(const ExactOptimizer& rule, std::vector<Moment>& moments, std::size_t p)
      : rule_(rule), moments_(moments), p_(p), u_(moments.size() * p), scratch_(u_.size()) {}

  std::vector<double>& u() { return u_; }
  void Refresh(std::size_t i) {
    moments_[i].values.CopyValuesTo(std::span(u_).subspan(i * p_, p_));
  }
  void RefreshAll() {
    for (std::size_t i = 0; i < moments_.size(); ++i) Refresh(i);
  }
  // Moment i's input (P values) of the step with gradient g.
  std::span<const double> Input(std::size_t i, std::span<const double> g) {
    const std::size_t stage = rule_.MomentStages() == 1 ? 0 : i;
    return rule_.MomentInputs(stage, g, u_, scratch_).subspan(i * p_, p_);
  }

  void Forward(std::span<const double> g) {
    for (Moment& m : moments_) MultiplyByRatio(m.values, {&m.ratio, 1}, *m.buffer);
    for (std::size_t i = 0; i < moments_.size(); ++i) {
      if (rule_.MomentStages() > 1 && i > 0) Refresh(i - 1);  // the new values of moment i − 1
      moments_[i].values.AddScaled(moments_[i].increment, Input(i, g));
    }
    RefreshAll();
  }

  void Reverse(std::span<const double> g) {
    for (std::size_t i = moments_.size(); i-- > 0;) {  // the last moment first
      moments_[i].values.SubScaled(moments_[i].increment, Input(i, g));
      if (rule_.MomentStages() > 1) Refresh(i);
    }
    for (Moment& m : moments_) DivideByRatio(m.values, {&m.ratio, 1}, *m.buffer);
    RefreshAll();
  }

 private:
  const ExactOptimizer& rule_;
  std::vector<Moment>& moments_;
  std::size_t p_;
  std::vector<double> u_, scratch_;
};

int Run(const Options& options, const std::set<std::string>& given_flags,
        const Provenance& provenance) {
  const BufferKind kind = ParseBufferKind(options.buffer);
  const std::size_t p = options.params, steps = options.steps;
  const std::string& optimizer = options.optimizer_flags.optimizer;
  const OptimizerInfo& info = FindOptimizer(optimizer);
  const std::map<std::string, double> settings = options.optimizer_flags.Chosen();
  std::vector<std::string> read;  // the flags that enter the moments, in the registry's order
  for (const OptimizerFlag& flag : info.flags) {
    if (flag.enters_moments) read.push_back(flag.name);
  }
  for (const std::string& flag : given_flags) {
    if (settings.count(flag) != 0 && std::find(read.begin(), read.end(), flag) == read.end()) {
      throw std::invalid_argument("--" + flag + " does not enter the moments of --optimizer " +
                                  optimizer + ", so buffer_check has no use for it");
    }
  }

  // About 96 bytes per value of the K·P: the moments twice, their doubles, inputs and
  // coefficients.
  CheckFitsInMemory(96.0 * static_cast<double>(info.MomentNames().size() * p),
                    "--params " + std::to_string(p) + ": the values");
  // The optimizer's run of one step on P parameters: its coefficients (the decays are
  // constant) and moment inputs.
  const auto run = info.make(std::make_shared<const UntrainedModel>(p, "buffer_check"),
                             ParameterBlocks::Single(p), [](std::size_t) { return Batch{}; },
                             info.Constant(1, 1, 0.0, settings), {});
  const ExactOptimizer& rule = run->optimizer();
  const std::size_t k = rule.num_moments();
  StepCoefficients c;
  rule.Coefficients(0, c);

  std::vector<Moment> moments(k);
  for (std::size_t i = 0; i < k; ++i) {
    Moment& m = moments[i];
    m.name = rule.MomentName(i);
    m.decay = c.decay[i * p];
    m.ratio = c.ratios[i * p];
    m.increment = std::span<const double>(c.increment).subspan(i * p, p);
    m.values = MomentVector::FromDoubles(std::vector<double>(p, 0.0), rule.MomentFormat(i));
    m.buffer = MakeInfoBuffer(kind, p);
  }
  MomentMover mover(rule, moments, p);
  // The initial moments: φ(g') for a standard normal g', staged as in a step.
  {
    RandomStream init(options.seed, {0});
    std::vector<double> g(p);
    for (double& x : g) x = init.Normal();
    for (std::size_t i = 0; i < k; ++i) {
      const std::span<const double> x = mover.Input(i, g);
      moments[i].values = MomentVector::FromDoubles(x, rule.MomentFormat(i));
      mover.Refresh(i);
    }
    for (Moment& m : moments) m.original = m.values;
  }
  std::vector<double> g(p);

  const bool show = !options.quiet;
  auto begin = std::chrono::steady_clock::now();
  Progress forward("forward", steps, show);
  for (std::size_t t = 0; t < steps; ++t) {
    if (t == steps / 2) {
      for (Moment& m : moments) m.bits_at_half = m.buffer->InformationBits();
    }
    Gradient(options.seed, t, g);
    mover.Forward(g);
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
    Gradient(options.seed, t, g);
    mover.Reverse(g);
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
    out["provenance"] = ProvenanceJson(provenance);
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
  (void)hypergrad::UseHugePagesForTheHeap();  // a short run's fixed cost was mostly page faults
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
  const hypergrad::Provenance provenance = hypergrad::CollectProvenance(argc, argv);
  return GuardedMain(app, argc, argv, [&] {
    std::set<std::string> given;  // the optimizer flags given on the command line
    for (const auto& [name, value] : options.optimizer_flags.given) given.insert(name);
    return hypergrad::experiments::Run(options, given, provenance);
  });
}
