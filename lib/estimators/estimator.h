// Hypergradient estimators: the exact reverse pass and the approximations in common use,
// behind one interface, so that each can be measured against the exact one (issue [M]).
//
// An estimator is given one training run — SGD with momentum, per-block schedules α[t][j],
// γ[t][j], minibatches, w_0, v_0 — and a meta-objective f(w_T, θ), and returns its estimate of
// ∂f/∂α (T × B), ∂f/∂γ (T × B), ∂f/∂w_0, ∂f/∂v_0 and ∂f/∂θ (θ: the hyperparameters inside the
// training loss, Model::num_hyper()), the shapes of the exact hypergradients (reversible_sgd.h).
// An estimator that gives no signal for a kind marks it "not applicable" instead of returning
// zeros, so that a benchmark does not count a missing estimate as an error of 100 %.
//
// The approximations train in float64: g_t = ∇_w L(w_t, θ; batch_t), v ← r_t v − (1−γ_t) g_t,
// w ← w + α_t v, with r_t the momentum factor n/d the fixed-point run applies exactly
// (float_sgd.h). The exact estimator trains in fixed point (values truncated to multiples of
// 2^-52): the two runs differ by that rounding only, about 1e-11 per step for the Fig-2 network.
#ifndef HYPERGRAD_ESTIMATORS_ESTIMATOR_H_
#define HYPERGRAD_ESTIMATORS_ESTIMATOR_H_

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "models/model.h"
#include "optimizers/reversible_sgd.h"

namespace hypergrad {

// f(w_T, θ): returns f and, when `d_w` is non-empty (size P), writes ∂f/∂w_T into it; when
// `d_theta` is non-empty (size num_hyper()), writes the direct term ∂f/∂θ. An empty `d_w` asks
// for the value only (ES evaluates many values and no gradient).
using MetaObjective =
    std::function<double(std::span<const double> w, std::span<double> d_w, std::span<double> d_theta)>;

// What every estimator is given: the training run and the meta-objective.
struct EstimatorProblem {
  std::shared_ptr<const Model> model;  // the training loss L(w, θ; batch), θ inside it
  ParameterBlocks blocks;              // B blocks sharing α[t][j], γ[t][j]
  SgdSchedule schedule;                   // T × B learning rates α and momentum decays γ
  BatchSchedule batches;               // batch t, t = 0 … T−1
  std::vector<double> w0, v0;          // initial weights and velocity (size P)
  MetaObjective objective;             // f(w_T, θ)
  // θ's current values and the model for other values (empty: θ is not perturbed, and ES/PES
  // mark d_theta not applicable). make_model(theta) must equal `model`.
  std::vector<double> theta;
  std::function<std::shared_ptr<const Model>(std::span<const double> theta)> make_model;
  // Optional: told (done, total) as an estimator's long loop advances (es: samples; pes:
  // truncation windows; forward mode and greedy: training steps), for a caller's progress line.
  // Never changes a result. Empty: nothing is reported.
  std::function<void(std::size_t done, std::size_t total)> progress;

  std::size_t iters() const { return schedule.iters; }
  std::size_t num_params() const { return w0.size(); }
  // Throws std::invalid_argument naming what is wrong: no model/objective/batches, blocks that
  // do not partition the model's parameters, an invalid schedule or one with other blocks,
  // w0/v0 not of size P, theta not empty and not of size num_hyper().
  void Validate() const;
};

// The kinds of hyperparameter an estimator may give a signal for.
enum class HyperKind { kAlpha = 0, kGamma, kW0, kV0, kTheta };
inline constexpr std::size_t kNumHyperKinds = 5;
// "alpha", "gamma", "w0", "v0", "theta" (the datasets' names without "d_").
const char* HyperKindName(HyperKind kind);

// The end of the unperturbed training run an estimator trained (so that a caller need not train
// it again): w_T and v_T (P values each), f = f(w_T, θ), and `run`, how it was trained:
// "fixed point" (the exact run's bits: exact, truncated) or "float64" (float_sgd.h's run, which
// differs from the fixed-point run by its rounding: drmad, neumann, cg, forward, greedy). Empty,
// with `run` "", for estimators that train perturbed runs only (es, pes).
struct FinalState {
  std::vector<double> w_T, v_T;
  double f = 0.0;
  std::string run;
  bool empty() const { return run.empty(); }
};

// An estimate, in the exact hypergradients' shapes. A vector whose kind is not applicable is
// empty (never zeros standing for "no signal").
struct EstimatedHypergradients {
  std::vector<double> d_alpha, d_gamma;  // T × B, row-major (α and γ themselves, not log α)
  std::vector<double> d_w0, d_v0;        // P
  std::vector<double> d_theta;           // num_hyper()
  std::array<bool, kNumHyperKinds> applicable{};
  FinalState final_state;  // the run the estimate was made on, where the estimator trained one
  // What the estimator measured about its own run, by name (recorded by the tools and the
  // benchmark): cg "cg_iterations" (iterations run) and "cg_relative_residual" (‖r‖/‖b‖ at the
  // end); exact and truncated "information_bits" (the buffer after training) and
  // "trajectory_peak_bytes" (buffer and fixed-point views, ReversibleTraining::peak_extra_bytes).
  std::map<std::string, double> diagnostics;
  // Why this estimate may not be what the estimator's header says it approximates, in words for
  // the user (e.g. cg stopped above its tolerance); empty when nothing was noticed. The tools
  // print it on stderr and record it (attribute estimator_warning); the benchmark records it.
  std::string warning;

  bool Applicable(HyperKind k) const { return applicable[static_cast<std::size_t>(k)]; }
  // The vector of kind k (empty when not applicable).
  const std::vector<double>& Of(HyperKind k) const;
  std::vector<double>& Of(HyperKind k);
};

// Reduced hyperparameters that forward mode computes directly and every estimator of the full
// shapes implies: per-block constant learning rates (Σ_t ∂f/∂α[t][j]), per-block constant
// momenta (Σ_t ∂f/∂γ[t][j]) and per-block log initial scales (Σ_{k∈j} ∂f/∂w_0[k]·w_0[k], for
// w_0 = e^{log s_j}·ε). Entries are empty where the source kind is not applicable.
struct BlockHypergradients {
  std::vector<double> d_alpha_block, d_gamma_block, d_log_init_scale;  // B each
};
BlockHypergradients ReduceToBlocks(const EstimatedHypergradients& h, const EstimatorProblem& p);

class Estimator {
 public:
  virtual ~Estimator() = default;
  // The registry's name ("exact", "drmad", ...) and the settings that made it (provenance):
  // e.g. "drmad" or "neumann terms=20".
  virtual std::string name() const = 0;
  virtual std::string settings() const { return name(); }
  // Runs the estimator on `problem` (validated first: std::invalid_argument). Estimators that
  // reduce hyperparameters (forward mode) return them in `blocks` when it is non-null.
  virtual EstimatedHypergradients Estimate(const EstimatorProblem& problem,
                                           BlockHypergradients* blocks = nullptr) const = 0;
};

// The float64 exact hypergradients as an estimator's result (the exact estimator's output).
EstimatedHypergradients FromExact(const Hypergradients& h);

}  // namespace hypergrad

#endif  // HYPERGRAD_ESTIMATORS_ESTIMATOR_H_
