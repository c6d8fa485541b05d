// The hypergradient estimator benchmark (issue [M]): every estimator of lib/estimators/ against
// the exact reverse pass on the paper's problems, with its measured memory and time, whether its
// error matters for meta-optimisation, and the short-horizon bias measured exactly.
//
// Data: the first 2,000 MNIST training images (mean image of the 60,000 subtracted, as Fig 2):
// rows 0–999 train, 1,000–1,999 validation (--smoke, the pipeline test: generated data of
// MNIST's shape, no download). Problems:
//   fig2   the Fig-2 network 784-50-50-50-10 (tanh), 8 blocks, schedules per block and step
//          (α = 0.2, γ = 0.9 to start), w_0 = e^-3·N(0, 1), batches of 200, meta-objective the mean NLL
//          on all training rows (as Fig 2); kinds α, γ, w_0, v_0 and their per-block reductions
//          (constant rates, constant momenta, log initial scales). T = 100, 1000 (10^4 with
//          BENCH_FULL=1).
//   fig6   logistic regression with one L2 penalty per weight (θ = λ, 7,850 values), T = 50 and
//          500 (5,000), α = 0.5, γ = 0.9, w_0 = e^-4·N(0, 1), meta-objective validation NLL.
//   fig7   logistic regression trained on 10 learned images (θ = λ and the 7,840 pixels),
//          T = 20 and 200 (2,000), α = 0.5, γ = 0.9, meta-objective validation NLL.
// Estimators: exact, truncated (K = 10 and 100 where K < T), drmad, greedy, forward, es, pes on
// the schedules; the same plus neumann and cg (5, 20, 100 terms) on the L2 and data problems.
// For each estimator and problem/horizon: cosine similarity, relative L2 error and sign
// agreement with the exact hypergradient per kind; peak extra heap memory (bytes, measured by
// heap_meter.h: operator new's live bytes above those before the call) and time as a ratio to
// one float64 training run timed in the same program.
// Meta-optimisation: the Fig-2 schedules (log α, logit γ per block and step, log s per block)
// meta-optimised by authors' Adam (step 0.04, as Fig 2) for 50 meta-iterations at T = 100
// (small: 10 at T = 50) driven by each estimator; final training and validation loss, learned schedules.
// Short-horizon bias: one log α (all blocks, γ = 0.9) chosen by bisection on the sign of its
// exact hypergradient (12 halvings of [−7, 5]) at horizons 1, 10, 100 (and 1000, 10^4 with
// BENCH_FULL=1); the chosen α, the loss at its own horizon and the loss after the longest
// horizon's steps with that α. Then a per-step schedule α_t (up to T = 1000) from that α, 8
// meta-iterations of the authors' Adam (step 0.1): its mean and last α, the loss.
// Sizes: training rows 1,000 (validation 1,000 more); ES/PES 4 pairs (16 in the full run,
// 4 at T = 10^4); the Fig-2 network runs each pass on 2 threads (the same bits as 1).
//
// Writes OUT/bench_estimators.json and OUT/bench_estimators.h5 (provenance attributes), each
// only when the run finished.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/bench_size.h"
#include "bench/heap_meter.h"
#include "estimators/estimator.h"
#include "estimators/float_sgd.h"
#include "estimators/registry.h"
#include "common/mnist_source.h"
#include "meta/hyperparams.h"
#include "meta/meta_optimizers.h"
#include "models/mlp.h"
#include "random/random.h"
#include "results/h5_writer.h"
#include "results/provenance.h"
#include "optimizers/batch_schedule.h"

namespace hypergrad::bench {
namespace {

using Clock = std::chrono::steady_clock;
double Seconds(Clock::time_point a) { return std::chrono::duration<double>(Clock::now() - a).count(); }

// Generated data of MNIST's shape with inputs scaled to MNIST's spread (N(0, 1)·0.3: mean-
// subtracted MNIST pixels have a standard deviation near 0.3).
Dataset ScaledSynthetic(std::size_t rows, std::uint64_t seed) {
  Dataset d = MakeSyntheticDataset(rows, 784, 10, seed);
  for (double& x : d.inputs) x *= 0.3;
  return d;
}

std::vector<double> InitialWeights(std::size_t n, double log_scale, std::uint64_t seed) {
  RandomStream rng(seed);
  std::vector<double> w(n);
  for (double& x : w) x = std::exp(log_scale) * rng.Normal();
  return w;
}

// A problem and what to record about it.
struct Case {
  std::string problem;
  EstimatorProblem p;
  std::shared_ptr<const Mlp> eval_model;  // for validation losses
  std::shared_ptr<const Dataset> valid;
};

MetaObjective NllObjective(std::shared_ptr<const Mlp> model, std::shared_ptr<const Dataset> data) {
  return [model, data](std::span<const double> w, std::span<double> d_w, std::span<double> d_theta) {
    for (double& x : d_theta) x = 0.0;
    return model->Evaluate(w, *data, d_w).nll;
  };
}

Case Fig2Case(std::size_t iters, std::shared_ptr<const Dataset> train,
              std::shared_ptr<const Dataset> valid) {
  Case c;
  c.problem = "fig2";
  // Two threads per pass: the same bits as one (MlpOptions::threads), the full run's budget.
  auto model = std::make_shared<const Mlp>(MlpOptions{{784, 50, 50, 50, 10}, {}, false, false, 2}, train);
  c.p.model = model;
  c.p.blocks = model->layout().LayerParamBlocks();
  c.p.schedule = SgdSchedule::Constant(iters, c.p.blocks.num_blocks(), 0.2, 0.9);
  c.p.batches = RandomBatches(train->rows, 200, 3);
  c.p.w0 = InitialWeights(model->num_params(), -3.0, 2);
  c.p.v0.assign(model->num_params(), 0.0);
  c.p.objective = NllObjective(model, train);  // Fig 2's meta-objective: the training loss
  c.eval_model = model;
  c.valid = valid;
  return c;
}

// Logistic regression on `train` with per-weight L2 λ (fig6) or on 10 learned images (fig7).
Case LogisticCase(const std::string& problem, std::size_t iters, std::shared_ptr<const Dataset> train,
                  std::shared_ptr<const Dataset> valid) {
  Case c;
  c.problem = problem;
  const MlpLayout layout({784, 10});
  const std::size_t n = layout.num_params();
  const bool fig7 = problem == "fig7";
  if (fig7) {
    // θ = [λ, 10 images × 784 pixels], images start as 0.01·N(0, 1), labels 0 … 9.
    c.p.theta.assign(1 + 10 * 784, 0.0);
    c.p.theta[0] = std::exp(-4.605170185988091);  // λ = 0.01
    RandomStream rng(5);
    for (std::size_t i = 1; i < c.p.theta.size(); ++i) c.p.theta[i] = 0.01 * rng.Normal();
    c.p.make_model = [](std::span<const double> theta) {
      std::vector<std::size_t> labels(10);
      for (std::size_t i = 0; i < 10; ++i) labels[i] = i;
      auto images = std::make_shared<const Dataset>(
          MakeDataset(std::vector<double>(theta.begin() + 1, theta.end()), 784, labels, 10));
      return std::shared_ptr<const Model>(
          std::make_shared<const Mlp>(MlpOptions{{784, 10}, {theta[0]}, true, true}, images));
    };
    c.p.batches = SequentialBatches(10, 10);
  } else {
    c.p.theta.assign(n, 0.01 * std::exp(1.0));  // Fig 6's λ_0 = 0.01·e per parameter
    c.p.make_model = [train](std::span<const double> theta) {
      return std::shared_ptr<const Model>(std::make_shared<const Mlp>(
          MlpOptions{{784, 10}, std::vector<double>(theta.begin(), theta.end()), true, false}, train));
    };
    c.p.batches = SequentialBatches(train->rows, 200);
  }
  c.p.model = c.p.make_model(c.p.theta);
  c.p.blocks = ParameterBlocks::Single(n);
  c.p.schedule = SgdSchedule::Constant(iters, 1, 0.5, 0.9);
  c.p.w0 = InitialWeights(n, -4.0, 2);
  c.p.v0.assign(n, 0.0);
  // Validation NLL (no penalty) through a plain model on the validation rows.
  auto eval = std::make_shared<const Mlp>(MlpOptions{{784, 10}, {}, false, false}, valid);
  c.p.objective = NllObjective(eval, valid);
  c.eval_model = eval;
  c.valid = valid;
  return c;
}

struct Spec {
  std::string name;
  EstimatorFlags flags;
  std::string label;
};
Spec MakeSpec(const std::string& name, std::vector<std::pair<std::string, std::string>> flags) {
  Spec s{name, {}, name};
  for (const auto& [f, v] : flags) {
    ParseEstimatorFlag(f, v, s.flags);
    s.label += " " + f.substr(2) + "=" + v;
  }
  s.flags.seed = 17;
  return s;
}

struct Metrics {
  double cosine = 0, rel_error = 0, sign_agreement = 0;
};
Metrics Compare(std::span<const double> est, std::span<const double> exact) {
  double dot = 0, ne = 0, nx = 0, diff = 0;
  std::size_t agree = 0, counted = 0;
  for (std::size_t i = 0; i < exact.size(); ++i) {
    dot += est[i] * exact[i];
    ne += est[i] * est[i];
    nx += exact[i] * exact[i];
    diff += (est[i] - exact[i]) * (est[i] - exact[i]);
    if (exact[i] != 0.0) {
      ++counted;
      if ((est[i] > 0) == (exact[i] > 0) && est[i] != 0.0) ++agree;
    }
  }
  Metrics m;
  m.cosine = (ne > 0 && nx > 0) ? dot / std::sqrt(ne * nx) : 0.0;
  m.rel_error = nx > 0 ? std::sqrt(diff / nx) : std::sqrt(diff);
  m.sign_agreement = counted ? static_cast<double>(agree) / static_cast<double>(counted) : 0.0;
  return m;
}

// Named vectors of one estimate: the full kinds that apply and the block reductions.
std::map<std::string, std::vector<double>> Named(const EstimatedHypergradients& h,
                                                 const BlockHypergradients& b) {
  std::map<std::string, std::vector<double>> out;
  for (std::size_t k = 0; k < kNumHyperKinds; ++k) {
    if (h.applicable[k]) out[HyperKindName(static_cast<HyperKind>(k))] = h.Of(static_cast<HyperKind>(k));
  }
  if (!b.d_alpha_block.empty()) out["alpha_block"] = b.d_alpha_block;
  if (!b.d_gamma_block.empty()) out["gamma_block"] = b.d_gamma_block;
  if (!b.d_log_init_scale.empty()) out["log_init_scale"] = b.d_log_init_scale;
  return out;
}

// w_T of the float64 training run of `p` (all p.iters() steps from w_0, v_0).
std::vector<double> FloatTrainedWeights(const EstimatorProblem& p) {
  std::vector<double> w = p.w0, v = p.v0;
  FloatSgdTrain(*p.model, p.blocks, p.schedule, p.batches, 0, p.iters(), w, v);
  return w;
}

// One float64 training run and the meta-objective: the time unit.
double TrainingSeconds(const EstimatorProblem& p) {
  const auto start = Clock::now();
  p.objective(FloatTrainedWeights(p), {}, {});
  return Seconds(start);
}

struct Accuracy {
  nlohmann::json runs = nlohmann::json::array();
};

// The time unit of a case: the faster of one training run before and one after its estimators
// (other work on the machine slows single runs; the faster is the closer to the run's cost).
void MeasureCase(const Case& c, const std::vector<Spec>& specs, nlohmann::json& out, H5Writer& h5) {
  const double train_before = TrainingSeconds(c.p);
  const std::size_t first = out.size();
  std::map<std::string, std::vector<double>> exact;
  for (const Spec& spec : specs) {
    nlohmann::json r;
    r["problem"] = c.problem;
    r["iters"] = c.p.iters();
    r["estimator"] = spec.name;
    r["label"] = spec.label;
    std::cerr << "  " << c.problem << " T=" << c.p.iters() << " " << spec.label << std::flush;
    try {
      const auto estimator = MakeEstimator(spec.name, spec.flags);
      r["settings"] = estimator->settings();
      BlockHypergradients blocks;
      const std::size_t before = HeapMeter::Current();
      HeapMeter::ResetPeak();
      const auto start = Clock::now();
      const EstimatedHypergradients h = estimator->Estimate(c.p, &blocks);
      const double seconds = Seconds(start);
      r["peak_extra_bytes"] = HeapMeter::Peak() - before;
      r["seconds"] = seconds;
      const auto named = Named(h, blocks);
      if (spec.name == "exact") exact = named;
      nlohmann::json kinds = nlohmann::json::object();
      for (const auto& [kind, values] : named) {
        const std::string ds = "/" + c.problem + "/T" + std::to_string(c.p.iters()) + "/" + spec.label + "/" + kind;
        h5.Write(ds, values);
        auto it = exact.find(kind);
        if (it == exact.end() || spec.name == "exact") continue;
        const Metrics m = Compare(values, it->second);
        kinds[kind] = {{"cosine", m.cosine}, {"rel_error", m.rel_error}, {"sign_agreement", m.sign_agreement}};
      }
      r["kinds"] = kinds;
      std::cerr << ": " << seconds << " s (" << seconds / train_before << " runs)\n";
    } catch (const std::exception& e) {
      r["error"] = e.what();
      std::cerr << ": " << e.what() << "\n";
    }
    out.push_back(r);
  }
  const double train_s = std::min(train_before, TrainingSeconds(c.p));
  for (std::size_t i = first; i < out.size(); ++i) {
    out[i]["training_seconds"] = train_s;
    if (out[i].contains("seconds")) out[i]["time_ratio"] = out[i]["seconds"].get<double>() / train_s;
  }
}

// The chain rule to the Fig-2 hyperparameters (log α, logit γ, log s) from an
// estimate; kinds that are not applicable contribute 0 (no signal: the meta-optimizer leaves
// them).
std::vector<double> FlatGradient(const SgdScheduleHyperparameters& hp, const EstimatedHypergradients& h,
                                 const EstimatorProblem& p) {
  const std::size_t ab = hp.iters * hp.blocks;
  std::vector<double> g(hp.size(), 0.0);
  if (h.Applicable(HyperKind::kAlpha)) {
    for (std::size_t i = 0; i < ab; ++i) g[i] = p.schedule.alpha[i] * h.d_alpha[i];
  }
  if (h.Applicable(HyperKind::kGamma)) {
    for (std::size_t i = 0; i < ab; ++i) {
      const double gm = p.schedule.gamma[i];
      g[ab + i] = gm * (1 - gm) * h.d_gamma[i];
    }
  }
  if (h.Applicable(HyperKind::kW0)) {
    for (std::size_t k = 0; k < p.w0.size(); ++k) g[2 * ab + p.blocks.block_of[k]] += h.d_w0[k] * p.w0[k];
  }
  return g;
}

void MetaOptimise(const Case& base, const std::vector<Spec>& specs, std::size_t meta_iters,
                  const std::vector<double>& eps, nlohmann::json& out, H5Writer& h5) {
  const std::size_t iters = base.p.iters(), b = base.p.blocks.num_blocks();
  for (const Spec& spec : specs) {
    std::cerr << "  meta-optimisation with " << spec.label << std::flush;
    nlohmann::json r;
    r["estimator"] = spec.name;
    r["label"] = spec.label;
    try {
      const auto estimator = MakeEstimator(spec.name, spec.flags);
      SgdScheduleHyperparameters hp = SgdScheduleHyperparameters::Constant(iters, b, std::log(0.2), 0.9, -3.0);
      AuthorsAdam meta(0.04);
      std::vector<double> curve;
      EstimatorProblem p = base.p;
      const auto start = Clock::now();
      for (std::size_t i = 0; i < meta_iters; ++i) {
        p.schedule = hp.ToSchedule();
        p.w0 = ScaledInitialWeights(p.blocks, hp.log_init_scale, eps);
        const EstimatedHypergradients h = estimator->Estimate(p);
        curve.push_back(p.objective(FloatTrainedWeights(p), {}, {}));
        std::vector<double> x = hp.Flatten();
        meta.Step(i, FlatGradient(hp, h, p), x);
        hp = SgdScheduleHyperparameters::Unflatten(iters, b, x);
      }
      p.schedule = hp.ToSchedule();
      p.w0 = ScaledInitialWeights(p.blocks, hp.log_init_scale, eps);
      const std::vector<double> w = FloatTrainedWeights(p);
      r["final_train_loss"] = p.objective(w, {}, {});
      r["final_valid_loss"] = base.eval_model->Evaluate(w, *base.valid).nll;
      r["train_curve"] = curve;
      r["seconds"] = Seconds(start);
      const std::string g = "/meta/" + spec.label;
      h5.Write(g + "/log_alpha", hp.log_alpha, {iters, b});
      h5.Write(g + "/logit_gamma", hp.logit_gamma, {iters, b});
      h5.Write(g + "/log_init_scale", hp.log_init_scale);
      h5.Write(g + "/train_curve", curve);
      std::cerr << ": train " << r["final_train_loss"] << ", valid " << r["final_valid_loss"] << "\n";
    } catch (const std::exception& e) {
      r["error"] = e.what();
      std::cerr << ": " << e.what() << "\n";
    }
    out.push_back(r);
  }
}

// One log α shared by every block and step, chosen with exact hypergradients of the loss after
// `horizon` steps: bisection on the sign of ∂f/∂log α over log α ∈ [−7, 5] (`steps` halvings:
// resolution 12/2^steps), a diverged run (weights out of the fixed-point range) counting as "α
// too large". A first-order method with a fixed step could move log α only a fixed distance in
// as many meta-iterations; the bisection finds where the exact hypergradient changes sign (a
// stationary point of the loss in log α) whatever the horizon. Returns the chosen log α per
// horizon (NaN where every trial failed otherwise).
std::vector<double> ShortHorizon(const Case& base, const std::vector<std::size_t>& horizons,
                                 std::size_t steps, nlohmann::json& out, H5Writer& h5) {
  const std::size_t longest = horizons.back(), b = base.p.blocks.num_blocks();
  const auto exact = MakeEstimator("exact", {});
  std::vector<double> chosen, own_loss, long_loss, done, log_alphas;
  for (std::size_t horizon : horizons) {
    std::cerr << "  short-horizon bias, T = " << horizon << std::flush;
    try {
      EstimatorProblem p = base.p;
      constexpr double kLow = -7.0, kHigh = 5.0;
      double lo = kLow, hi = kHigh;
      std::vector<double> trace, signs;
      std::size_t diverged = 0;
      for (std::size_t i = 0; i < steps; ++i) {
        const double mid = 0.5 * (lo + hi);
        p.schedule = SgdSchedule::Constant(horizon, b, std::exp(mid), 0.9);
        double d = 0;
        bool too_large = false;
        try {
          const EstimatedHypergradients h = exact->Estimate(p);
          for (double v : h.d_alpha) d += v;
          too_large = std::exp(mid) * d > 0;
        } catch (const FixedPointOverflow&) {
          too_large = true;
          ++diverged;
        }
        (too_large ? hi : lo) = mid;
        trace.push_back(mid);
        signs.push_back(too_large ? 1.0 : -1.0);
      }
      const double log_alpha = 0.5 * (lo + hi);
      auto loss_after = [&](std::size_t steps_run) {
        EstimatorProblem q = base.p;
        q.schedule = SgdSchedule::Constant(steps_run, b, std::exp(log_alpha), 0.9);
        return q.objective(FloatTrainedWeights(q), {}, {});
      };
      const double own = loss_after(horizon), after_longest = loss_after(longest);
      chosen.push_back(std::exp(log_alpha));
      log_alphas.push_back(log_alpha);
      own_loss.push_back(own);
      long_loss.push_back(after_longest);
      done.push_back(static_cast<double>(horizon));
      out.push_back({{"horizon", horizon}, {"alpha", chosen.back()}, {"loss_at_horizon", own},
                     {"loss_after_longest", after_longest}, {"longest", longest},
                     {"log_alpha_trials", trace}, {"too_large", signs}, {"diverged_trials", diverged},
                     {"resolution_log_alpha", (kHigh - kLow) / std::ldexp(1.0, static_cast<int>(steps))},
                     {"range_log_alpha", {kLow, kHigh}}});
      std::cerr << ": α = " << chosen.back() << ", loss " << own << ", after " << longest
                << " steps " << after_longest << "\n";
    } catch (const std::exception& e) {
      out.push_back({{"horizon", horizon}, {"error", e.what()}, {"longest", longest}});
      log_alphas.push_back(std::nan(""));
      std::cerr << ": " << e.what() << "\n";
    }
  }
  h5.Write("/short_horizon/horizon", done);
  h5.Write("/short_horizon/alpha", chosen);
  h5.Write("/short_horizon/loss_at_horizon", own_loss);
  h5.Write("/short_horizon/loss_after_longest", long_loss);
  return log_alphas;
}

// The same with a learning-rate schedule: one α_t per step (shared by the blocks, γ = 0.9),
// starting from the constant α ShortHorizon chose for that horizon (`start`, one log α per
// horizon), log α_t meta-optimised by the authors' Adam (step 0.1) with exact hypergradients of
// the loss after `horizon` steps. Records the learned schedule's mean and last α and the loss.
void ShortHorizonSchedule(const Case& base, const std::vector<std::size_t>& horizons,
                          const std::vector<double>& start, std::size_t meta_iters,
                          nlohmann::json& out, H5Writer& h5) {
  const std::size_t b = base.p.blocks.num_blocks();
  const auto exact = MakeEstimator("exact", {});
  for (std::size_t n = 0; n < horizons.size(); ++n) {
    const std::size_t horizon = horizons[n];
    std::cerr << "  short-horizon bias (schedule), T = " << horizon << std::flush;
    if (!std::isfinite(start[n])) {
      out.push_back({{"horizon", horizon}, {"error", "no constant α was chosen at this horizon"}});
      std::cerr << ": no start\n";
      continue;
    }
    try {
      EstimatorProblem p = base.p;
      std::vector<double> x(horizon, start[n]), g(horizon);
      AuthorsAdam meta(0.1);
      for (std::size_t i = 0; i <= meta_iters; ++i) {
        p.schedule = SgdSchedule::Constant(horizon, b, 0.0, 0.9);
        for (std::size_t t = 0; t < horizon; ++t) {
          for (std::size_t j = 0; j < b; ++j) p.schedule.alpha[t * b + j] = std::exp(x[t]);
        }
        if (i == meta_iters) break;  // the last schedule is evaluated below
        const EstimatedHypergradients h = exact->Estimate(p);
        for (std::size_t t = 0; t < horizon; ++t) {
          double d = 0;
          for (std::size_t j = 0; j < b; ++j) d += h.d_alpha[t * b + j];
          g[t] = std::exp(x[t]) * d;
        }
        meta.Step(i, g, x);
      }
      const double loss = p.objective(FloatTrainedWeights(p), {}, {});
      double mean = 0;
      for (double lx : x) mean += std::exp(lx);
      mean /= static_cast<double>(horizon);
      std::vector<double> alpha(horizon);
      for (std::size_t t = 0; t < horizon; ++t) alpha[t] = std::exp(x[t]);
      h5.Write("/short_horizon_schedule/T" + std::to_string(horizon) + "/alpha", alpha);
      out.push_back({{"horizon", horizon}, {"start_alpha", std::exp(start[n])}, {"mean_alpha", mean},
                     {"last_alpha", alpha.back()}, {"loss_at_horizon", loss}});
      std::cerr << ": mean α = " << mean << ", loss " << loss << "\n";
    } catch (const std::exception& e) {
      out.push_back({{"horizon", horizon}, {"error", e.what()}});
      std::cerr << ": " << e.what() << "\n";
    }
  }
}

int Main(int argc, char** argv) {
  std::string out_dir = "results/bench";
  bool smoke = false;
  std::string mnist_dir = experiments::DefaultMnistDir();
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--out" && i + 1 < argc) {
      out_dir = argv[++i];
    } else if (a == "--mnist" && i + 1 < argc) {
      mnist_dir = argv[++i];
    } else if (a == "--smoke") {
      smoke = true;  // the pipeline test: the smallest sizes, seconds
    } else {
      std::cerr << "bench_estimators: unknown argument '" << a << "' (use --out DIR, --mnist DIR, --smoke)\n";
      return 2;
    }
  }
  const bool full = FullSize() && !smoke;
  const Provenance provenance = CollectProvenance(argc, argv);
  const std::string json_path = out_dir + "/bench_estimators.json";
  const std::string h5_path = out_dir + "/bench_estimators.h5";
  CheckResultPath(json_path);
  H5Writer h5(h5_path);

  // Sizes: small (make bench), full (BENCH_FULL=1), smoke (tests).
  const std::size_t train_rows = smoke ? 400 : 1000;
  const std::vector<std::size_t> fig2_t = smoke ? std::vector<std::size_t>{10}
                                          : full ? std::vector<std::size_t>{100, 1000, 10000}
                                                 : std::vector<std::size_t>{100, 1000};
  const std::vector<std::size_t> fig6_t = smoke ? std::vector<std::size_t>{10}
                                          : full ? std::vector<std::size_t>{50, 500, 5000}
                                                 : std::vector<std::size_t>{50, 500};
  const std::vector<std::size_t> fig7_t = smoke ? std::vector<std::size_t>{5}
                                          : full ? std::vector<std::size_t>{20, 200, 2000}
                                                 : std::vector<std::size_t>{20, 200};
  // ES/PES pairs: each costs 2 training runs (4 at T = 10^4 in the full run).
  const std::string samples = smoke ? "2" : full ? "16" : "4";
  const std::size_t meta_iters = smoke ? 2 : full ? 50 : 10;
  const std::size_t meta_t = smoke ? 5 : full ? 100 : 50;
  const std::vector<std::size_t> horizons = smoke ? std::vector<std::size_t>{1, 10}
                                            : full ? std::vector<std::size_t>{1, 10, 100, 1000, 10000}
                                                   : std::vector<std::size_t>{1, 10, 100};
  const std::size_t horizon_meta_iters = smoke ? 2 : 8;
  const std::size_t bisection_steps = smoke ? 3 : 12;

  auto all = std::make_shared<const Dataset>([&] {
    if (smoke) return ScaledSynthetic(train_rows + 1000, 1);
    std::vector<double> mean;
    Dataset d = experiments::LoadMnistTrainingRowsFrom(mnist_dir, train_rows + 1000, &mean);
    SubtractMean(d, mean);
    return d;
  }());
  auto train = std::make_shared<const Dataset>(all->Slice(0, train_rows));
  auto valid = std::make_shared<const Dataset>(all->Slice(train_rows, train_rows + 1000));

  nlohmann::json accuracy = nlohmann::json::array();
  const std::vector<Spec> schedule_specs = {
      MakeSpec("exact", {}), MakeSpec("drmad", {}), MakeSpec("greedy", {}), MakeSpec("forward", {}),
      MakeSpec("es", {{"--samples", samples}, {"--sigma", "0.01"}}),
      MakeSpec("pes", {{"--truncation", "10"}, {"--samples", samples}, {"--sigma", "0.01"}})};
  // Truncated backpropagation with K = 10 and 100 reverse steps, where K < T.
  auto with_truncated = [](std::vector<Spec> specs, std::size_t t) {
    for (const char* k : {"10", "100"}) {
      if (std::stoul(k) < t) specs.insert(specs.begin() + 1, MakeSpec("truncated", {{"--truncation", k}}));
    }
    return specs;
  };
  for (std::size_t t : fig2_t) {
    // Forward mode costs about 1 + 2·24 training runs: measured up to T = 1000 (full) or 100.
    std::vector<Spec> specs = schedule_specs;
    if (!full && t >= 1000) {
      // The small run (make bench): the cheap estimators only at T = 1000.
      specs = {MakeSpec("exact", {}), MakeSpec("drmad", {}), MakeSpec("greedy", {})};
    } else if (t > 1000) {
      specs = {MakeSpec("exact", {}), MakeSpec("drmad", {}), MakeSpec("greedy", {}),
               MakeSpec("es", {{"--samples", "4"}, {"--sigma", "0.01"}}),
               MakeSpec("pes", {{"--truncation", "10"}, {"--samples", "4"}, {"--sigma", "0.01"}})};
    }
    if (t > (full ? 1000u : 100u)) std::erase_if(specs, [](const Spec& s) { return s.name == "forward"; });
    MeasureCase(Fig2Case(t, train, valid), with_truncated(specs, t), accuracy, h5);
  }
  std::vector<Spec> theta_specs = {MakeSpec("exact", {}), MakeSpec("drmad", {}), MakeSpec("greedy", {})};
  for (const char* k : {"5", "20", "100"}) {
    theta_specs.push_back(MakeSpec("neumann", {{"--terms", k}}));
    theta_specs.push_back(MakeSpec("cg", {{"--terms", k}}));
  }
  theta_specs.push_back(MakeSpec("es", {{"--samples", samples}, {"--sigma", "0.01"}}));
  theta_specs.push_back(MakeSpec("pes", {{"--truncation", "10"}, {"--samples", samples}, {"--sigma", "0.01"}}));
  for (std::size_t t : fig6_t) {
    MeasureCase(LogisticCase("fig6", t, train, valid), with_truncated(theta_specs, t), accuracy, h5);
  }
  for (std::size_t t : fig7_t) {
    MeasureCase(LogisticCase("fig7", t, train, valid), with_truncated(theta_specs, t), accuracy, h5);
  }

  nlohmann::json meta = nlohmann::json::array();
  {
    const Case base = Fig2Case(meta_t, train, valid);
    RandomStream rng(2);
    std::vector<double> eps(base.p.num_params());
    for (double& e : eps) e = rng.Normal();
    const std::vector<Spec> specs = {
        MakeSpec("exact", {}), MakeSpec("truncated", {{"--truncation", smoke ? "2" : "10"}}),
        MakeSpec("drmad", {}), MakeSpec("greedy", {}),
        MakeSpec("es", {{"--samples", smoke ? "2" : "4"}, {"--sigma", "0.01"}}),
        MakeSpec("pes", {{"--truncation", "10"}, {"--samples", smoke ? "2" : "4"}, {"--sigma", "0.01"}})};
    MetaOptimise(base, specs, meta_iters, eps, meta, h5);
  }
  nlohmann::json horizon = nlohmann::json::array();
  const std::vector<double> chosen_log_alpha =
      ShortHorizon(Fig2Case(1, train, valid), horizons, bisection_steps, horizon, h5);
  // The schedule version up to T = 1000 (at 10^4 its 8 exact passes would double the full run).
  nlohmann::json horizon_schedule = nlohmann::json::array();
  std::vector<std::size_t> schedule_horizons = horizons;
  std::erase_if(schedule_horizons, [](std::size_t h) { return h > 1000; });
  ShortHorizonSchedule(Fig2Case(1, train, valid), schedule_horizons, chosen_log_alpha,
                       horizon_meta_iters, horizon_schedule, h5);

  nlohmann::json doc;
  doc["context"] = {{"command_line", provenance.command_line}, {"git_revision", provenance.git_revision},
                    {"git_dirty", provenance.git_dirty}, {"start_time", provenance.start_time},
                    {"host", provenance.host}, {"compiler", provenance.compiler},
                    {"build_type", provenance.build_type}, {"full", full}, {"smoke", smoke},
                    {"end_time", UtcNow()}, {"train_rows", train_rows},
                    {"data", smoke ? "generated (MakeSyntheticDataset, seed 1, inputs x 0.3)"
                                   : "MNIST training images 0-1,999 (mean of 60,000 subtracted): 0-999 train, "
                                     "1,000-1,999 validation"}};
  doc["accuracy"] = accuracy;
  doc["meta_optimisation"] = meta;
  doc["meta_optimisation_settings"] = {{"iters", meta_t}, {"meta_iters", meta_iters},
                                       {"meta_optimizer", "authors-adam step 0.04"}};
  doc["short_horizon"] = horizon;
  doc["short_horizon_schedule"] = horizon_schedule;
  WriteProvenance(h5, provenance, !full);
  experiments::WriteDataFiles(h5);
  h5.SetAttribute("/", "benchmark", "bench_estimators");
  const std::string partial = json_path + ".partial";
  {
    std::ofstream f(partial);
    f << doc.dump(1) << "\n";
    if (!f) throw std::runtime_error("cannot write " + partial);
  }
  h5.Commit();
  std::filesystem::rename(partial, json_path);
  std::cerr << "wrote " << json_path << " and " << h5_path << "\n";
  return 0;
}

}  // namespace
}  // namespace hypergrad::bench

int main(int argc, char** argv) {
  try {
    return hypergrad::bench::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "bench_estimators: " << e.what() << "\n";
    return 1;
  }
}
