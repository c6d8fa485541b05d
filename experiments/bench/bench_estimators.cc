// The hypergradient estimator benchmark (issue [M]): every estimator of lib/estimators/ against
// the exact reverse pass on the paper's problems, with its measured memory and time, whether its
// error matters for meta-optimisation, and the short-horizon bias measured exactly.
//
// Data: the first 2,000 MNIST training images (mean image of the 60,000 subtracted, as Fig 2):
// rows 0–999 train, 1,000–1,999 validation (--smoke, the pipeline test: generated data of
// MNIST's shape, no download). Problems and their meta-objectives:
//   fig2   the Fig-2 network 784-50-50-50-10 (tanh), 8 blocks, schedules per block and step
//          (α = 0.2, γ = 0.9 to start), w_0 = e^-3·N(0, 1), batches of 200; meta-objective the
//          TRAINING loss, mean NLL on all 1,000 training rows at w_T (as Fig 2); kinds α, γ,
//          w_0, v_0 and their per-block reductions (constant rates, constant momenta, log initial
//          scales). T = 100, 1000 (10^4 with BENCH_FULL=1).
//   fig6   logistic regression with one L2 penalty per weight (θ = λ, 7,850 values), T = 50 and
//          500 (5,000), α = 0.5, γ = 0.9, w_0 = e^-4·N(0, 1); meta-objective the validation NLL
//          (1,000 rows, no penalty).
//   fig7   logistic regression trained on 10 learned images (θ = λ and the 7,840 pixels),
//          T = 20 and 200 (2,000), α = 0.5, γ = 0.9; meta-objective the validation NLL.
// Estimators: exact, truncated (K = 10 and 100 where K < T), drmad, greedy, forward, es, pes on
// the schedules; the same plus neumann and cg (5, 20, 100 terms) on the L2 and data problems.
// For each estimator and problem/horizon, per kind: cosine similarity, relative L2 error, sign
// agreement over the entries where the exact value is not 0, the number of values, both norms,
// and the count of non-finite values (an estimate with any gets no metrics, only the count);
// peak extra heap memory (bytes, heap_meter.h: operator new's live bytes above those before the
// call, on the first repetition) and time as a ratio to one float64 training run: the median
// of 3 calls in this process (1 at T ≥ 10^4, too costly), with every sample recorded, over the
// median of 3 training runs (2 before the case's estimators, 1 after). Repeated calls must give
// the same bits (recorded). Per case, the memory of its parts: one evaluation of the
// meta-objective with its gradient, one minibatch gradient, one gradient with Hessian-vector
// product; for exact and truncated the information buffer and the fixed-point trajectory
// (computed by the trajectory).
// Meta-optimisation: the Fig-2 schedules (log α, logit γ per block and step, log s per block)
// meta-optimised by authors' Adam (step 0.04, as Fig 2) for 50 meta-iterations at T = 100
// (small: 10 at T = 50) driven by each estimator; final training and validation loss, learned
// schedules.
// Short-horizon bias (meta-objective: the training loss after T steps): one log α for every
// block and step (γ = 0.9) chosen at horizons 1, 10, 100 (1000, 10^4 with BENCH_FULL=1) as the
// lowest loss after T steps over a grid of log α in [−7, 5] (step 0.5, float64 runs; a diverged
// run counts as +inf), then refined by bisection on the sign of the exact hypergradient between
// the best grid point and its neighbour downhill (6 halvings), every refined point's loss
// measured too; the lowest loss of all points tried is the choice. Then a per-step schedule α_t
// from that α, 8 meta-iterations of the authors' Adam (step 0.1) on exact hypergradients at the
// same horizons; the schedule with the lowest loss among those visited is kept (the first is the
// constant one), a diverged step ends the search and is recorded.
// Sizes: training rows 1,000 (validation 1,000 more); ES/PES 4 pairs (16 in the full run,
// 4 at T = 10^4); the Fig-2 network runs each pass on 2 threads (the same bits as 1).
//
// Writes OUT/bench_estimators.json and OUT/bench_estimators.h5 (provenance attributes), each
// only when the run finished; OUT is created if missing (as the tools create an --out file's
// folder), a path that exists and is not a folder is refused.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <cstring>
#include <iostream>
#include <limits>
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

// The comparison of one kind's estimate with the exact values. Sign agreement counts the
// entries where the exact value is not 0 (sign_counted of them): an estimate of 0 there
// disagrees. With a non-finite value in the estimate, no metric is computed (nonfinite > 0).
struct Metrics {
  double cosine = 0, rel_error = 0, sign_agreement = 0, exact_norm = 0, estimate_norm = 0;
  std::size_t sign_counted = 0, nonfinite = 0, values = 0;
};
Metrics Compare(std::span<const double> est, std::span<const double> exact) {
  Metrics m;
  m.values = exact.size();
  double dot = 0, ne = 0, nx = 0, diff = 0;
  std::size_t agree = 0;
  for (std::size_t i = 0; i < exact.size(); ++i) {
    if (!std::isfinite(est[i])) ++m.nonfinite;
    dot += est[i] * exact[i];
    ne += est[i] * est[i];
    nx += exact[i] * exact[i];
    diff += (est[i] - exact[i]) * (est[i] - exact[i]);
    if (exact[i] != 0.0) {
      ++m.sign_counted;
      if ((est[i] > 0) == (exact[i] > 0) && est[i] != 0.0) ++agree;
    }
  }
  m.exact_norm = std::sqrt(nx);
  m.estimate_norm = std::sqrt(ne);
  m.cosine = (ne > 0 && nx > 0) ? dot / std::sqrt(ne * nx) : 0.0;
  m.rel_error = nx > 0 ? std::sqrt(diff / nx) : std::sqrt(diff);
  m.sign_agreement = m.sign_counted ? static_cast<double>(agree) / static_cast<double>(m.sign_counted) : 0.0;
  return m;
}

double Median(std::vector<double> x) {
  std::sort(x.begin(), x.end());
  const std::size_t n = x.size();
  return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
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

// Bytes of the heap peak of `work` above the live bytes before it.
template <typename Work>
std::size_t PeakBytes(Work&& work) {
  const std::size_t before = HeapMeter::Current();
  HeapMeter::ResetPeak();
  work();
  return HeapMeter::Peak() - before;
}

// The memory of a case's parts: one meta-objective evaluation with its gradient, one minibatch
// gradient and one gradient with Hessian-vector product (and mixed product) at w_0; every
// output vector is allocated before the measurement, so each number is the workspace alone.
nlohmann::json MemoryParts(const Case& c) {
  const Model& model = *c.p.model;
  const std::size_t n = c.p.num_params(), h = model.num_hyper();
  std::vector<double> d_w(n), d_theta(h), grad(n), hvp(n), u(n, 1e-3), mixed(h);
  const Batch batch = c.p.batches(0);
  nlohmann::json j;
  j["params"] = n;
  j["hyper"] = h;
  j["batch_rows"] = batch.rows.size();
  j["objective_peak_bytes"] = PeakBytes([&] { c.p.objective(c.p.w0, d_w, d_theta); });
  j["gradient_peak_bytes"] = PeakBytes([&] { model.Gradient(c.p.w0, batch, grad); });
  j["hvp_peak_bytes"] = PeakBytes([&] { model.GradientAndHvp(c.p.w0, batch, u, grad, hvp, mixed); });
  j["vector_bytes"] = n * sizeof(double);
  return j;
}

// ‖x‖₂ of the hyperparameters of `kind` (their own values: α, γ, w_0, θ; for v_0, which is 0
// here, w_0's; α and γ of the first step per block for the per-block constants; 1 per block for
// the log initial scales): with ‖∂f/∂x‖₂ it bounds the first-order change of f when every
// hyperparameter of the kind changes by its own size (Cauchy–Schwarz).
double HyperNorm(const EstimatorProblem& p, const std::string& kind) {
  auto norm = [](std::span<const double> x) {
    double s = 0;
    for (double v : x) s += v * v;
    return std::sqrt(s);
  };
  const std::size_t b = p.blocks.num_blocks();
  if (kind == "alpha") return norm(p.schedule.alpha);
  if (kind == "gamma") return norm(p.schedule.gamma);
  if (kind == "w0" || kind == "v0") return norm(p.w0);
  if (kind == "theta") return norm(p.theta);
  if (kind == "alpha_block") return norm(std::span(p.schedule.alpha).first(b));
  if (kind == "gamma_block") return norm(std::span(p.schedule.gamma).first(b));
  if (kind == "log_init_scale") return std::sqrt(static_cast<double>(b));
  return std::nan("");
}

// Whether two estimates are the same bits (every kind, the reductions, the final state).
bool SameBits(const EstimatedHypergradients& a, const BlockHypergradients& ab,
              const EstimatedHypergradients& b, const BlockHypergradients& bb) {
  auto same = [](const std::vector<double>& x, const std::vector<double>& y) {
    return x.size() == y.size() && (x.empty() || std::memcmp(x.data(), y.data(), x.size() * sizeof(double)) == 0);
  };
  for (std::size_t k = 0; k < kNumHyperKinds; ++k) {
    const auto kind = static_cast<HyperKind>(k);
    if (a.Applicable(kind) != b.Applicable(kind) || !same(a.Of(kind), b.Of(kind))) return false;
  }
  return same(ab.d_alpha_block, bb.d_alpha_block) && same(ab.d_gamma_block, bb.d_gamma_block) &&
         same(ab.d_log_init_scale, bb.d_log_init_scale) && same(a.final_state.w_T, b.final_state.w_T);
}

// Where the exact estimator's heap goes, stage by stage, on the case's problem (the same steps
// as ExactEstimator: construct the fixed-point run, train, evaluate f and ∂f/∂w_T, reverse, copy
// into the estimate): for each stage the live bytes above the start before and after it and the
// peak during it (HeapMeter, reset at each stage's start).
nlohmann::json ExactStages(const Case& c) {
  nlohmann::json out = nlohmann::json::array();
  const std::size_t base = HeapMeter::Current();
  std::size_t before = 0;
  auto stage = [&](const char* name, auto&& work) {
    HeapMeter::ResetPeak();
    work();
    const std::size_t after = HeapMeter::Current() - base;
    out.push_back({{"stage", name}, {"live_before", before}, {"peak", HeapMeter::Peak() - base},
                   {"live_after", after}});
    before = after;
  };
  std::unique_ptr<ReversibleSgd> sgd;
  std::vector<double> d_w, d_theta;
  Hypergradients h;
  EstimatedHypergradients e;
  stage("construct", [&] {
    sgd = std::make_unique<ReversibleSgd>(SgdSetup{c.p.model, c.p.blocks, c.p.schedule, c.p.batches},
                                          TrainingOptions{});
  });
  stage("train", [&] { sgd->Train(c.p.w0, c.p.v0); });
  stage("objective", [&] {
    d_w.assign(c.p.num_params(), 0.0);
    d_theta.assign(c.p.model->num_hyper(), 0.0);
    c.p.objective(sgd->weights(), d_w, d_theta);
  });
  stage("reverse", [&] { h = sgd->Reverse(d_w, d_theta, ReverseOptions{0}); });
  stage("estimate", [&] { e = FromExact(h); });
  out.push_back({{"stage", "buffer_computed"}, {"bytes", sgd->peak_extra_bytes()},
                 {"information_bits", sgd->information_bits_after_train()}});
  return out;
}

// The time unit of a case: the median of three training runs, two before its estimators and one
// after (other work on the machine slows single runs). Each estimator call is timed `repeats`
// times; its time is the median.
void MeasureCase(const Case& c, const std::vector<Spec>& specs, std::size_t repeats, nlohmann::json& out,
                 nlohmann::json& cases, H5Writer& h5) {
  std::vector<double> train_samples = {TrainingSeconds(c.p), TrainingSeconds(c.p)};
  nlohmann::json parts = MemoryParts(c);
  parts["exact_stages"] = ExactStages(c);
  parts["problem"] = c.problem;
  parts["iters"] = c.p.iters();
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
      EstimatedHypergradients h;
      BlockHypergradients blocks;
      std::vector<double> seconds;
      bool same = true;
      for (std::size_t rep = 0; rep < repeats; ++rep) {
        BlockHypergradients rep_blocks;
        EstimatedHypergradients rep_h;
        const std::size_t peak = PeakBytes([&] {
          const auto start = Clock::now();
          rep_h = estimator->Estimate(c.p, &rep_blocks);
          seconds.push_back(Seconds(start));
        });
        if (rep == 0) {
          r["peak_extra_bytes"] = peak;
          h = std::move(rep_h);
          blocks = std::move(rep_blocks);
        } else {
          same = same && SameBits(h, blocks, rep_h, rep_blocks);
        }
      }
      r["seconds_samples"] = seconds;
      r["seconds"] = Median(seconds);
      r["repeats"] = repeats;
      r["repeat_bitwise_equal"] = same;
      r["diagnostics"] = h.diagnostics;
      if (!h.warning.empty()) r["warning"] = h.warning;
      if (!h.final_state.empty()) r["f"] = h.final_state.f;
      const auto named = Named(h, blocks);
      if (spec.name == "exact") exact = named;
      nlohmann::json kinds = nlohmann::json::object();
      for (const auto& [kind, values] : named) {
        const std::string ds = "/" + c.problem + "/T" + std::to_string(c.p.iters()) + "/" + spec.label + "/" + kind;
        h5.Write(ds, values);
        auto it = exact.find(kind);
        if (it == exact.end()) continue;
        const Metrics m = Compare(values, it->second);
        nlohmann::json k = {{"values", m.values}, {"exact_norm", m.exact_norm}, {"nonfinite", m.nonfinite}};
        if (spec.name == "exact") k["hyper_norm"] = HyperNorm(c.p, kind);
        if (spec.name != "exact" && m.nonfinite == 0) {
          k.update({{"cosine", m.cosine}, {"rel_error", m.rel_error}, {"sign_agreement", m.sign_agreement},
                    {"sign_counted", m.sign_counted}, {"estimate_norm", m.estimate_norm}});
        }
        kinds[kind] = k;
      }
      r["kinds"] = kinds;
      std::cerr << ": " << Median(seconds) << " s (median of " << repeats << ")"
                << (same ? "" : ", REPEATS DIFFER") << "\n";
    } catch (const std::exception& e) {
      r["error"] = e.what();
      std::cerr << ": " << e.what() << "\n";
    }
    out.push_back(r);
  }
  train_samples.push_back(TrainingSeconds(c.p));
  const double train_s = Median(train_samples);
  parts["training_seconds_samples"] = train_samples;
  parts["training_seconds"] = train_s;
  cases.push_back(parts);
  for (std::size_t i = first; i < out.size(); ++i) {
    out[i]["training_seconds"] = train_s;
    if (!out[i].contains("seconds")) continue;
    out[i]["time_ratio"] = out[i]["seconds"].get<double>() / train_s;
    const auto samples = out[i]["seconds_samples"].get<std::vector<double>>();
    out[i]["time_ratio_min"] = *std::min_element(samples.begin(), samples.end()) / train_s;
    out[i]["time_ratio_max"] = *std::max_element(samples.begin(), samples.end()) / train_s;
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

// The training loss after `steps` float64 steps from the case's w_0 with one α = e^log_alpha for
// every block and step and γ = 0.9; +inf for a run that diverged (a non-finite weight or loss).
double ConstantRateLoss(const Case& base, std::size_t steps, double log_alpha) {
  EstimatorProblem q = base.p;
  q.schedule = SgdSchedule::Constant(steps, q.blocks.num_blocks(), std::exp(log_alpha), 0.9);
  try {
    const double f = q.objective(FloatTrainedWeights(q), {}, {});
    return std::isfinite(f) ? f : std::numeric_limits<double>::infinity();
  } catch (const std::runtime_error&) {
    return std::numeric_limits<double>::infinity();
  }
}

// What the short-horizon search needs of its sizes.
struct HorizonSearch {
  double low = -7.0, high = 5.0, grid_step = 0.5;  // log α
  std::size_t refine_steps = 6;
};

// One log α shared by every block and step, chosen for the training loss after `horizon` steps:
// the lowest loss over the grid of log α (HorizonSearch), then bisection on the sign of the exact
// hypergradient ∂f/∂log α = Σ_t,j α·∂f/∂α[t][j] between the best grid point and its neighbour on
// the side where the exact hypergradient says the loss falls; every point's loss is measured
// (float64 run) and the lowest loss of all points tried is chosen. A grid alone cannot see
// between its points; a bisection alone (on [−7, 5]) lands wherever the derivative changes sign,
// which at large α is a chaotic region with a loss far above the untrained network's
// (measured before this change: 5.07 at T = 10 against 2.30). Returns the chosen log α per
// horizon (NaN where every point diverged).
std::vector<double> ShortHorizon(const Case& base, const std::vector<std::size_t>& horizons,
                                 const HorizonSearch& search, nlohmann::json& out, H5Writer& h5) {
  const std::size_t longest = horizons.back(), b = base.p.blocks.num_blocks();
  const auto exact = MakeEstimator("exact", {});
  const double untrained = base.p.objective(base.p.w0, {}, {});
  std::vector<double> chosen, own_loss, long_loss, done, log_alphas;
  for (std::size_t horizon : horizons) {
    std::cerr << "  short-horizon bias, T = " << horizon << std::flush;
    try {
      const auto start = Clock::now();
      std::vector<double> grid, grid_loss;
      for (double x = search.low; x <= search.high + 1e-12; x += search.grid_step) {
        grid.push_back(x);
        grid_loss.push_back(ConstantRateLoss(base, horizon, x));
      }
      const std::size_t best_grid =
          static_cast<std::size_t>(std::min_element(grid_loss.begin(), grid_loss.end()) - grid_loss.begin());
      if (!std::isfinite(grid_loss[best_grid])) throw std::runtime_error("every grid point diverged");
      double best_x = grid[best_grid], best_loss = grid_loss[best_grid];
      std::string best_from = "grid";
      // ∂f/∂log α from the exact pass; NaN for a run that left the fixed-point range.
      EstimatorProblem p = base.p;
      auto exact_slope = [&](double x) {
        p.schedule = SgdSchedule::Constant(horizon, b, std::exp(x), 0.9);
        try {
          const EstimatedHypergradients h = exact->Estimate(p);
          double d = 0;
          for (double v : h.d_alpha) d += v;
          return std::exp(x) * d;
        } catch (const std::runtime_error&) {  // FixedPointOverflow, a diverged run
          return std::nan("");
        }
      };
      std::vector<double> trial_x, trial_loss, trial_slope;
      const double slope_at_best = exact_slope(best_x);
      double lo = best_x, hi = best_x;
      if (slope_at_best < 0) hi = std::min(best_x + search.grid_step, search.high);
      if (slope_at_best > 0) lo = std::max(best_x - search.grid_step, search.low);
      for (std::size_t i = 0; i < search.refine_steps && hi > lo; ++i) {
        const double mid = 0.5 * (lo + hi);
        const double slope = exact_slope(mid), loss = ConstantRateLoss(base, horizon, mid);
        trial_x.push_back(mid);
        trial_loss.push_back(loss);
        trial_slope.push_back(slope);
        if (loss < best_loss) best_x = mid, best_loss = loss, best_from = "refinement";
        // Loss falling with α (slope < 0): the minimum is above mid; rising or diverged: below.
        (slope < 0 ? lo : hi) = mid;
      }
      const double after_longest = ConstantRateLoss(base, longest, best_x);
      std::size_t diverged = 0;
      for (double l : grid_loss) diverged += std::isfinite(l) ? 0 : 1;
      chosen.push_back(std::exp(best_x));
      log_alphas.push_back(best_x);
      own_loss.push_back(best_loss);
      long_loss.push_back(after_longest);
      done.push_back(static_cast<double>(horizon));
      auto finite_or_null = [](const std::vector<double>& v) {
        nlohmann::json j = nlohmann::json::array();
        for (double x : v) j.push_back(std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr));
        return j;
      };
      out.push_back({{"horizon", horizon}, {"alpha", chosen.back()}, {"log_alpha", best_x},
                     {"loss_at_horizon", best_loss}, {"loss_after_longest", after_longest},
                     {"longest", longest}, {"untrained_loss", untrained}, {"chosen_from", best_from},
                     {"grid_log_alpha", grid}, {"grid_loss", finite_or_null(grid_loss)},
                     {"grid_diverged", diverged}, {"best_grid_log_alpha", grid[best_grid]},
                     {"best_grid_loss", grid_loss[best_grid]},
                     {"exact_slope_at_best_grid", std::isfinite(slope_at_best) ? nlohmann::json(slope_at_best) : nlohmann::json(nullptr)},
                     {"refine_log_alpha", trial_x}, {"refine_loss", finite_or_null(trial_loss)},
                     {"refine_exact_slope", finite_or_null(trial_slope)},
                     {"range_log_alpha", {search.low, search.high}}, {"grid_step", search.grid_step},
                     {"seconds", Seconds(start)}});
      std::cerr << ": α = " << chosen.back() << " (" << best_from << "), loss " << best_loss << ", after "
                << longest << " steps " << after_longest << "\n";
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
// the training loss after `horizon` steps for `meta_iters` iterations. Each visited schedule's
// loss is the exact pass's own (fixed-point run); the one with the lowest is kept (the first is
// the constant α: the schedule never ends worse than it), and its loss is measured again on the
// float64 run like every other loss here. A schedule whose run leaves the fixed-point range ends
// the search (recorded as diverged_at_meta_iteration).
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
      const auto started = Clock::now();
      EstimatorProblem p = base.p;
      std::vector<double> x(horizon, start[n]), g(horizon), best_x = x;
      double best_loss = std::numeric_limits<double>::infinity();
      std::size_t best_iter = 0;
      nlohmann::json diverged_at = nullptr;
      std::string diverged_message;
      std::vector<double> curve;
      AuthorsAdam meta(0.1);
      auto set_schedule = [&](const std::vector<double>& lx) {
        p.schedule = SgdSchedule::Constant(horizon, b, 0.0, 0.9);
        for (std::size_t t = 0; t < horizon; ++t) {
          for (std::size_t j = 0; j < b; ++j) p.schedule.alpha[t * b + j] = std::exp(lx[t]);
        }
      };
      for (std::size_t i = 0; i < meta_iters; ++i) {
        set_schedule(x);
        EstimatedHypergradients h;
        try {
          h = exact->Estimate(p);
        } catch (const std::runtime_error& e) {
          diverged_at = i;
          diverged_message = e.what();
          break;
        }
        curve.push_back(h.final_state.f);
        if (h.final_state.f < best_loss) best_loss = h.final_state.f, best_x = x, best_iter = i;
        bool finite = true;
        for (std::size_t t = 0; t < horizon; ++t) {
          double d = 0;
          for (std::size_t j = 0; j < b; ++j) d += h.d_alpha[t * b + j];
          g[t] = std::exp(x[t]) * d;
          finite = finite && std::isfinite(g[t]);
        }
        // Near the edge of stability the float64 adjoints of a long run can overflow: the exact
        // hypergradient is then ±inf or NaN and gives no step.
        if (!finite) {
          diverged_at = i;
          diverged_message = "the exact hypergradient has non-finite values (float64 adjoints overflowed)";
          break;
        }
        meta.Step(i, g, x);
      }
      if (!std::isfinite(best_loss)) throw std::runtime_error("the constant α's schedule diverged: " + diverged_message);
      set_schedule(best_x);
      const double loss = p.objective(FloatTrainedWeights(p), {}, {});
      double mean = 0;
      std::vector<double> alpha(horizon);
      for (std::size_t t = 0; t < horizon; ++t) mean += alpha[t] = std::exp(best_x[t]);
      mean /= static_cast<double>(horizon);
      h5.Write("/short_horizon_schedule/T" + std::to_string(horizon) + "/alpha", alpha);
      nlohmann::json r = {{"horizon", horizon}, {"start_alpha", std::exp(start[n])}, {"mean_alpha", mean},
                          {"first_alpha", alpha.front()}, {"last_alpha", alpha.back()},
                          {"min_alpha", *std::min_element(alpha.begin(), alpha.end())},
                          {"max_alpha", *std::max_element(alpha.begin(), alpha.end())},
                          {"loss_at_horizon", loss}, {"best_meta_iteration", best_iter},
                          {"meta_iterations", meta_iters}, {"fixed_point_loss_curve", curve},
                          {"diverged_at_meta_iteration", diverged_at}, {"seconds", Seconds(started)}};
      if (!diverged_message.empty()) r["diverged_message"] = diverged_message;
      out.push_back(r);
      std::cerr << ": mean α = " << mean << ", loss " << loss << " (meta-iteration " << best_iter << ")\n";
    } catch (const std::exception& e) {
      out.push_back({{"horizon", horizon}, {"error", e.what()}});
      std::cerr << ": " << e.what() << "\n";
    }
  }
}

constexpr const char* kHelp = R"(bench_estimators: every hypergradient estimator of lib/estimators/ against the
exact reverse pass (issue [M]).

Usage: bench_estimators [--out DIR] [--mnist-dir DIR] [--smoke] [--help]

Runs, on MNIST training images 0-999 (training) and 1,000-1,999 (validation):
  accuracy, memory, time  every estimator on the Fig-2 schedules (784-50-50-50-10, meta-objective
                          the training loss), the Fig-6 per-weight L2 problem and the Fig-7
                          learned data (logistic regression, meta-objective the validation loss):
                          cosine, relative error, sign agreement per kind against the exact
                          hypergradient; peak extra heap bytes; time in training runs (median of
                          3 calls; 1 at T = 10^4)
  meta-optimisation       the Fig-2 schedules driven by each estimator (authors' Adam)
  short-horizon bias      the best constant learning rate (grid over log alpha, refined with exact
                          hypergradients) and a learned schedule for horizons 1, 10, 100 (...)
Sizes (T of Fig 2 / Fig 6 / Fig 7; ES/PES pairs; meta-optimisation; horizons):
  default (make bench, make bench-estimators)     100,1000 / 50,500 / 20,200; 4; 10 at T = 50;
                                                  1, 10, 100
  BENCH_FULL=1 in the environment                 adds 10000 / 5000 / 2000; 16 (4 at T = 10^4);
                                                  50 at T = 100; adds 1000, 10000
  --smoke (the pipeline test, generated data)     10 / 10 / 10; 2; 2 at T = 5; 1, 10
Time on this project's 2-core machine (measured): default 3.7 minutes, BENCH_FULL=1 about 50
minutes (43 without the T = 10^4 schedule), --smoke 7 seconds.

Options:
  --out DIR        folder for bench_estimators.json and bench_estimators.h5 (default
                   results/bench; created if missing; each file is written only when the run
                   finished, and replaces an earlier one)
  --mnist-dir DIR  folder with the MNIST idx files (default: the one CMake fetched; --mnist DIR
                   is the same option)
  --smoke          the smallest sizes on generated data of MNIST's shape (no download)
  --help           this text
)";

int Main(int argc, char** argv) {
  std::string out_dir = "results/bench";
  bool smoke = false;
  std::string mnist_dir = experiments::DefaultMnistDir();
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc || std::string(argv[i + 1]).empty()) {
        throw std::invalid_argument(a + ": expected a folder after it");
      }
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::cout << kHelp;
      return 0;
    } else if (a == "--out") {
      out_dir = value();
    } else if (a == "--mnist-dir" || a == "--mnist") {
      mnist_dir = value();
    } else if (a == "--smoke") {
      smoke = true;  // the pipeline test: the smallest sizes, seconds
    } else {
      std::cerr << "bench_estimators: unknown argument '" << a
                << "' (use --out DIR, --mnist-dir DIR, --smoke, --help)\n";
      return 2;
    }
  }
  // The output folder: created if missing; something else there is refused before any work.
  {
    std::error_code ec;
    const auto status = std::filesystem::status(out_dir, ec);
    if (std::filesystem::exists(status) && !std::filesystem::is_directory(status)) {
      throw std::invalid_argument("--out " + out_dir + ": exists and is not a folder");
    }
    std::filesystem::create_directories(out_dir, ec);
    if (ec) throw std::runtime_error("--out " + out_dir + ": cannot create the folder: " + ec.message());
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
  const std::vector<std::size_t> fig7_t = smoke ? std::vector<std::size_t>{10}
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
  HorizonSearch search;
  if (smoke) search.grid_step = 2.0, search.refine_steps = 2;
  // Repetitions of each timed call: 3 (the median is the time), 1 at T ≥ 10^4 (a single sample:
  // three would add about 40 minutes to the full run).
  auto repeats = [](std::size_t t) -> std::size_t { return t >= 10000 ? 1 : 3; };

  auto all = std::make_shared<const Dataset>([&] {
    if (smoke) return ScaledSynthetic(train_rows + 1000, 1);
    std::vector<double> mean;
    Dataset d = experiments::LoadMnistTrainingRowsFrom(mnist_dir, train_rows + 1000, &mean);
    SubtractMean(d, mean);
    return d;
  }());
  auto train = std::make_shared<const Dataset>(all->Slice(0, train_rows));
  auto valid = std::make_shared<const Dataset>(all->Slice(train_rows, train_rows + 1000));

  nlohmann::json accuracy = nlohmann::json::array(), cases = nlohmann::json::array();
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
    MeasureCase(Fig2Case(t, train, valid), with_truncated(specs, t), repeats(t), accuracy, cases, h5);
  }
  std::vector<Spec> theta_specs = {MakeSpec("exact", {}), MakeSpec("drmad", {}), MakeSpec("greedy", {})};
  for (const char* k : {"5", "20", "100"}) {
    theta_specs.push_back(MakeSpec("neumann", {{"--terms", k}}));
    theta_specs.push_back(MakeSpec("cg", {{"--terms", k}}));
  }
  theta_specs.push_back(MakeSpec("es", {{"--samples", samples}, {"--sigma", "0.01"}}));
  theta_specs.push_back(MakeSpec("pes", {{"--truncation", "10"}, {"--samples", samples}, {"--sigma", "0.01"}}));
  for (std::size_t t : fig6_t) {
    MeasureCase(LogisticCase("fig6", t, train, valid), with_truncated(theta_specs, t), repeats(t), accuracy,
                cases, h5);
  }
  for (std::size_t t : fig7_t) {
    MeasureCase(LogisticCase("fig7", t, train, valid), with_truncated(theta_specs, t), repeats(t), accuracy,
                cases, h5);
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
        MakeSpec("pes", {{"--truncation", smoke ? "2" : "10"}, {"--samples", smoke ? "2" : "4"}, {"--sigma", "0.01"}})};
    MetaOptimise(base, specs, meta_iters, eps, meta, h5);
  }
  nlohmann::json horizon = nlohmann::json::array();
  const std::vector<double> chosen_log_alpha =
      ShortHorizon(Fig2Case(1, train, valid), horizons, search, horizon, h5);
  // The schedule version at every horizon (at 10^4: 8 exact passes, about 7 minutes).
  nlohmann::json horizon_schedule = nlohmann::json::array();
  ShortHorizonSchedule(Fig2Case(1, train, valid), horizons, chosen_log_alpha, horizon_meta_iters,
                       horizon_schedule, h5);

  nlohmann::json doc;
  doc["context"] = {{"command_line", provenance.command_line}, {"git_revision", provenance.git_revision},
                    {"git_dirty", provenance.git_dirty}, {"start_time", provenance.start_time},
                    {"host", provenance.host}, {"compiler", provenance.compiler},
                    {"build_type", provenance.build_type}, {"full", full}, {"smoke", smoke},
                    {"end_time", UtcNow()}, {"train_rows", train_rows},
                    {"timing", "median of 3 calls per estimator (1 at T >= 10000) over the median of 3 "
                               "float64 training runs, in this process"},
                    {"data", smoke ? "generated (MakeSyntheticDataset, seed 1, inputs x 0.3)"
                                   : "MNIST training images 0-1,999 (mean of 60,000 subtracted): 0-999 train, "
                                     "1,000-1,999 validation"}};
  for (const auto& [name, value] : ArithmeticProvenance()) doc["context"][name] = value;
  doc["accuracy"] = accuracy;
  doc["cases"] = cases;
  doc["meta_optimisation"] = meta;
  doc["meta_optimisation_settings"] = {{"iters", meta_t}, {"meta_iters", meta_iters},
                                       {"meta_optimizer", "authors-adam step 0.04"}};
  doc["short_horizon"] = horizon;
  doc["short_horizon_settings"] = {{"range_log_alpha", {search.low, search.high}}, {"grid_step", search.grid_step},
                                   {"refine_steps", search.refine_steps}, {"gamma", 0.9},
                                   {"schedule_meta_iters", horizon_meta_iters},
                                   {"schedule_meta_optimizer", "authors-adam step 0.1"}};
  doc["short_horizon_schedule"] = horizon_schedule;
  WriteProvenance(h5, provenance, !full);
  experiments::WriteDataFiles(h5);
  h5.SetAttribute("/", "benchmark", "bench_estimators");
  const std::string partial = json_path + ".partial";
  {
    std::ofstream f(partial);
    f << doc.dump(1) << "\n";
    if (!f) {
      std::filesystem::remove(partial);
      throw std::runtime_error("cannot write " + partial);
    }
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
