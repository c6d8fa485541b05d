#include "common/tool_estimator.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <stdexcept>

#include "optimizers/reversible_sgd.h"

namespace hypergrad::experiments {

namespace {

// Every flag some estimator takes, in the registry's order.
std::vector<std::string> AllEstimatorFlags() {
  std::vector<std::string> flags;
  for (const std::string& name : EstimatorNames()) {
    for (const std::string& flag : EstimatorFlagNames(name)) {
      if (std::find(flags.begin(), flags.end(), flag) == flags.end()) flags.push_back(flag);
    }
  }
  return flags;
}

// "--truncation 10" etc.: the flags `name` takes with their defaults, or "no flags".
std::string FlagsWithDefaults(const std::string& name) {
  const EstimatorFlags d = CompleteEstimatorFlags(name, {});
  std::string out;
  auto add = [&](const char* flag, const std::string& value) { out += (out.empty() ? "" : " ") + std::string(flag) + " " + value; };
  if (d.truncation) add("--truncation", std::to_string(*d.truncation));
  if (d.terms) add("--terms", std::to_string(*d.terms));
  if (d.samples) add("--samples", std::to_string(*d.samples));
  for (const auto& [flag, value] : {std::pair{"--sigma", d.sigma}, std::pair{"--tolerance", d.tolerance}}) {
    if (!value) continue;
    char text[32];
    std::snprintf(text, sizeof text, "%g", *value);
    add(flag, text);
  }
  return out.empty() ? "no flags" : out;
}

}  // namespace

void AddEstimatorOptions(CLI::App& app, EstimatorChoice& choice) {
  std::string help = "hypergradient estimator (lib/estimators/), with the flags it takes and their defaults:";
  for (const std::string& name : EstimatorNames()) help += " " + name + " (" + FlagsWithDefaults(name) + ");";
  help += " a flag the estimator does not take is an error, and so is a value outside its range "
          "(--truncation: truncated [0, 1000000], pes [1, 1000000], both at most --iters; --terms: "
          "neumann [0, 100000], cg [1, 100000] iterations at most; --tolerance (cg: stop when the "
          "residual is at most this fraction of the right-hand side's norm): [1e-16, 0.1]; --samples "
          "[1, 100000]; --sigma (relative to each hyperparameter's scale) [1e-10, 1]). Estimators other "
          "than exact take --optimizer sgd only, train the same run and write the same datasets, "
          "leaving out (and listing in the attribute not_applicable) those they give no signal for. "
          "neumann and cg estimate only the hyperparameters the training loss depends on explicitly: "
          "they need --log-l2 (--model mlp) and write /d_log_l2 only. forward writes the per-block "
          "constants /d_alpha_block, /d_gamma_block and /d_log_init_scale (one value per block) "
          "instead of /d_alpha, /d_gamma, /d_w0. Non-finite values written are counted in the "
          "attribute nonfinite_values and reported on stderr";
  app.add_option("--estimator", choice.name, help)
      ->check([](const std::string& name) {
        try {
          EstimatorFlagNames(name);
        } catch (const std::invalid_argument& e) {
          return std::string(e.what());
        }
        return std::string();
      })
      ->capture_default_str();
  for (const std::string& flag : AllEstimatorFlags()) {
    std::string takers;
    for (const std::string& name : EstimatorNames()) {
      const std::vector<std::string> flags = EstimatorFlagNames(name);
      if (std::find(flags.begin(), flags.end(), flag) != flags.end()) takers += (takers.empty() ? "" : ", ") + name;
    }
    app.add_option_function<std::string>(
        flag, [&choice, flag](const std::string& value) { choice.values[flag] = value; },
        "setting of --estimator " + takers + " (an error with any other)");
  }
}

EstimatorFlags ResolveEstimatorFlags(const EstimatorChoice& choice, std::uint64_t seed,
                                     const std::string& optimizer) {
  EstimatorFlags flags;
  for (const auto& [flag, value] : choice.values) {
    if (!ParseEstimatorFlag(flag, value, flags)) throw std::logic_error("not an estimator flag: " + flag);
  }
  flags.seed = seed;
  EstimatorFlags complete = CompleteEstimatorFlags(choice.name, flags);
  if (choice.name != "exact" && optimizer != "sgd") {
    throw std::invalid_argument("--estimator " + choice.name + " differentiates --optimizer sgd only, not --optimizer " +
                                optimizer + " (only --estimator exact takes every optimizer)");
  }
  return complete;
}

void WriteEstimatorAttributes(H5Writer& writer, const std::string& name, const EstimatorFlags& complete) {
  writer.SetAttribute("/", "estimator", name);
  if (complete.truncation) writer.SetAttribute("/", "estimator_truncation", *complete.truncation);
  if (complete.terms) writer.SetAttribute("/", "estimator_terms", *complete.terms);
  if (complete.samples) writer.SetAttribute("/", "estimator_samples", *complete.samples);
  if (complete.sigma) writer.SetAttribute("/", "estimator_sigma", *complete.sigma);
  if (complete.tolerance) writer.SetAttribute("/", "estimator_tolerance", *complete.tolerance);
  if (EstimatorDrawsNoise(name)) writer.SetAttribute("/", "estimator_seed", static_cast<std::int64_t>(complete.seed));
}

std::vector<double> BlockLogL2(const ParameterBlocks& blocks, std::span<const double> l2,
                               std::span<const double> d_l2) {
  std::vector<double> out(blocks.num_blocks(), 0.0);
  for (std::size_t k = 0; k < blocks.num_params(); ++k) out[blocks.block_of[k]] += l2[k] * d_l2[k];
  return out;
}

TrainedState TrainFixedPoint(const EstimatorProblem& problem, const TrainingOptions& options) {
  ReversibleSgd sgd({problem.model, problem.blocks, problem.schedule, problem.batches}, options);
  sgd.Train(problem.w0, problem.v0);
  TrainedState s;
  s.w_T.assign(sgd.weights().begin(), sgd.weights().end());
  s.v_T.assign(sgd.velocity().begin(), sgd.velocity().end());
  // With a gradient asked for, as TrainAndReverse evaluates it (the same bits as the exact pass).
  std::vector<double> d_w(problem.num_params()), d_theta(problem.model->num_hyper(), 0.0);
  s.loss_final = problem.objective(sgd.weights(), d_w, d_theta);
  return s;
}

void CheckEstimatorFitsRun(const std::string& name, const EstimatorFlags& complete, std::size_t iters,
                           const std::string& model_name, bool model_has_l2, bool log_l2) {
  if (EstimatorNeedsTheta(name)) {
    const std::string what = "--estimator " + name +
                             " estimates only the hyperparameters the training loss depends on "
                             "explicitly (θ: --log-l2's per-parameter L2 penalties)";
    if (!model_has_l2) {
      throw std::invalid_argument(what + ", and --model " + model_name +
                                  " has none (it takes no --log-l2; its own penalty flag is a fixed "
                                  "setting, not a hyperparameter)");
    }
    if (!log_l2) throw std::invalid_argument(what + ": give --log-l2 X");
  }
  if (complete.truncation && *complete.truncation > iters) {
    throw std::invalid_argument("--estimator " + name + ": --truncation " + std::to_string(*complete.truncation) +
                                " exceeds the run's T = " + std::to_string(iters) + " (--iters)");
  }
}

std::size_t CountNonFinite(std::span<const double> values) {
  std::size_t n = 0;
  for (double x : values) n += std::isfinite(x) ? 0 : 1;
  return n;
}

void WriteCounted(H5Writer& writer, const std::string& name, const std::vector<double>& values,
                  const std::vector<std::size_t>& shape, NonFiniteCounts& nonfinite) {
  if (shape.empty()) {
    writer.Write(name, values);
  } else {
    writer.Write(name, values, shape);
  }
  if (const std::size_t bad = CountNonFinite(values)) nonfinite.emplace_back(name, bad);
}

WrittenEstimate WriteEstimate(H5Writer& writer, const EstimatedHypergradients& estimate,
                              const BlockHypergradients& blocks, const EstimatorProblem& problem,
                              std::span<const double> l2) {
  const std::vector<std::size_t> schedule_shape = {problem.schedule.iters, problem.schedule.blocks};
  WrittenEstimate out;
  auto write = [&](const std::string& name, const std::vector<double>& values,
                   const std::vector<std::size_t>& shape) {
    WriteCounted(writer, name, values, shape, out.nonfinite);
  };
  for (const HyperKind kind : {HyperKind::kW0, HyperKind::kAlpha, HyperKind::kV0, HyperKind::kGamma}) {
    const std::string name = std::string("d_") + HyperKindName(kind);
    if (!estimate.Applicable(kind)) {
      out.not_applicable.push_back(name);
    } else if (kind == HyperKind::kAlpha || kind == HyperKind::kGamma) {
      write("/" + name, estimate.Of(kind), schedule_shape);
    } else {
      write("/" + name, estimate.Of(kind), {});
    }
  }
  // Forward mode's reduced hyperparameters, where the full kind is not there.
  if (!estimate.Applicable(HyperKind::kAlpha) && !blocks.d_alpha_block.empty()) {
    write("/d_alpha_block", blocks.d_alpha_block, {});
  }
  if (!estimate.Applicable(HyperKind::kGamma) && !blocks.d_gamma_block.empty()) {
    write("/d_gamma_block", blocks.d_gamma_block, {});
  }
  if (!estimate.Applicable(HyperKind::kW0) && !blocks.d_log_init_scale.empty()) {
    write("/d_log_init_scale", blocks.d_log_init_scale, {});
  }
  if (!l2.empty()) {
    if (estimate.Applicable(HyperKind::kTheta)) {
      write("/d_log_l2", BlockLogL2(problem.blocks, l2, estimate.d_theta), {});
    } else {
      out.not_applicable.push_back("d_log_l2");
    }
  }
  return out;
}

void ReportNonFinite(H5Writer& writer, const std::string& program, const std::string& estimator,
                     const NonFiniteCounts& nonfinite) {
  std::size_t total = 0;
  std::string list;
  for (const auto& [name, count] : nonfinite) {
    total += count;
    list += (list.empty() ? "" : ", ") + name + " " + std::to_string(count);
  }
  writer.SetAttribute("/", "nonfinite_values", static_cast<std::int64_t>(total));
  writer.SetAttribute("/", "nonfinite_datasets", list);
  if (total > 0) {
    std::cerr << program << ": warning: --estimator " << estimator << " wrote " << total
              << " non-finite values (NaN or ±inf): " << list << " (attributes nonfinite_values, "
              << "nonfinite_datasets)\n";
  }
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ",") + name;
  return out;
}

}  // namespace hypergrad::experiments
