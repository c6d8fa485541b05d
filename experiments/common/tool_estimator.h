// The tools' --estimator option (issue [M]): the estimator registry's names and flags
// (estimators/registry.h) on a command line, a run of an estimator other than exact on the
// tools' SGD training run, and what a result file records about it.
#ifndef HYPERGRAD_EXPERIMENTS_COMMON_TOOL_ESTIMATOR_H_
#define HYPERGRAD_EXPERIMENTS_COMMON_TOOL_ESTIMATOR_H_

#include <CLI/CLI.hpp>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "estimators/estimator.h"
#include "estimators/registry.h"
#include "results/h5_writer.h"

namespace hypergrad::experiments {

// --estimator and its flags as given on the command line.
struct EstimatorChoice {
  std::string name = "exact";
  std::map<std::string, std::string> values;  // "--terms" → "20", only the flags given
};

// Adds --estimator (its choices, the flags each takes and their defaults from the registry)
// and every flag some estimator takes (--truncation, --terms, ...), stored as given in `choice`.
void AddEstimatorOptions(CLI::App& app, EstimatorChoice& choice);

// The flags of `choice` parsed by the registry and completed with its defaults
// (CompleteEstimatorFlags), ES/PES noise seeded by `seed`. Throws std::invalid_argument naming
// the flag for a malformed value, the estimator and the flag for a flag it does not take, and
// both options for an estimator other than exact with an --optimizer other than sgd (the
// estimators differentiate SGD with momentum only, estimator.h).
EstimatorFlags ResolveEstimatorFlags(const EstimatorChoice& choice, std::uint64_t seed,
                                     const std::string& optimizer);

// Root attributes: estimator (its name), estimator_<flag> for every flag it takes (the values it
// ran with, defaults included: estimator_truncation, _terms, _tolerance, _samples, _sigma) and
// estimator_seed for those that draw noise.
void WriteEstimatorAttributes(H5Writer& writer, const std::string& name, const EstimatorFlags& complete);

// ∂f/∂(log λ_j) = Σ_{k in block j} λ_k·∂f/∂λ_k, summed in parameter order: the hypergradient of
// one log L2 penalty per block when every λ_k of block j is exp(log λ_j). Sizes: P each.
std::vector<double> BlockLogL2(const ParameterBlocks& blocks, std::span<const double> l2,
                               std::span<const double> d_l2);

// The fixed-point training run of `problem` (forward only) and its objective: the state a result
// file records beside any estimator's hypergradients (the approximations differentiate the
// float64 run, which differs by rounding, estimator.h).
struct TrainedState {
  std::vector<double> w_T, v_T;
  double loss_final = 0.0;
};
TrainedState TrainFixedPoint(const EstimatorProblem& problem, const TrainingOptions& options);

// Checks, after the model is made and before anything is trained, what the estimator `name`
// needs of the run: θ for neumann and cg (EstimatorNeedsTheta): a model with per-parameter L2
// penalties (`model_has_l2`, ToolModel::with_l2) and --log-l2 given (`log_l2`); and K ≤ T for
// --truncation. std::invalid_argument naming the estimator and what is missing ("--estimator cg
// estimates only θ ... --model logistic has none").
void CheckEstimatorFitsRun(const std::string& name, const EstimatorFlags& complete, std::size_t iters,
                           const std::string& model_name, bool model_has_l2, bool log_l2);

// The number of values that are NaN or ±inf.
std::size_t CountNonFinite(std::span<const double> values);

// Datasets holding non-finite values, each with their count ("/d_alpha", 12).
using NonFiniteCounts = std::vector<std::pair<std::string, std::size_t>>;

// Writes `values` as dataset `name` (of `shape`; empty: one dimension) and, when any of them is
// NaN or ±inf, adds (name, their count) to `nonfinite`.
void WriteCounted(H5Writer& writer, const std::string& name, const std::vector<double>& values,
                  const std::vector<std::size_t>& shape, NonFiniteCounts& nonfinite);

// What WriteEstimate wrote: the names the estimator gives no signal for ("d_alpha", ...; not
// written), and each written dataset holding non-finite values with their count
// ("/d_alpha", 12).
struct WrittenEstimate {
  std::vector<std::string> not_applicable;
  NonFiniteCounts nonfinite;
};

// Writes the hypergradients of `estimate` under the exact pass's names: /d_alpha and /d_gamma
// (T × B), /d_w0, /d_v0 and, when `l2` is non-empty (λ per parameter, θ = λ), /d_log_l2 (B,
// BlockLogL2). The per-block reductions `blocks` (forward mode's only output) are written where
// their full-shape kind is not: /d_alpha_block and /d_gamma_block (B: ∂f/∂α_j and ∂f/∂γ_j of
// per-block constants, the sums over t of /d_alpha, /d_gamma) and /d_log_init_scale (B:
// Σ_{k in block j} ∂f/∂w_0[k]·w_0[k], ∂f/∂log s_j for w_0 scaled by e^{log s_j} on block j).
WrittenEstimate WriteEstimate(H5Writer& writer, const EstimatedHypergradients& estimate,
                              const BlockHypergradients& blocks, const EstimatorProblem& problem,
                              std::span<const double> l2);

// Records non-finite values: root attributes nonfinite_values (their total, 0 when none) and
// nonfinite_datasets ("/d_alpha 12, /d_w0 3", "" when none), and when there are any a warning on
// stderr naming `program`, the estimator, the datasets and the counts.
void ReportNonFinite(H5Writer& writer, const std::string& program, const std::string& estimator,
                     const NonFiniteCounts& nonfinite);

// "a,b,c".
std::string JoinNames(const std::vector<std::string>& names);

}  // namespace hypergrad::experiments

#endif  // HYPERGRAD_EXPERIMENTS_COMMON_TOOL_ESTIMATOR_H_
