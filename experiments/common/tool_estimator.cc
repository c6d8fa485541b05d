#include "common/tool_estimator.h"

#include <algorithm>
#include <cstdio>
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
  if (d.sigma) {
    char sigma[32];
    std::snprintf(sigma, sizeof sigma, "%g", *d.sigma);
    add("--sigma", sigma);
  }
  return out.empty() ? "no flags" : out;
}

}  // namespace

void AddEstimatorOptions(CLI::App& app, EstimatorChoice& choice) {
  std::string help = "hypergradient estimator (lib/estimators/), with the flags it takes and their defaults:";
  for (const std::string& name : EstimatorNames()) help += " " + name + " (" + FlagsWithDefaults(name) + ");";
  help += " a flag the estimator does not take is an error. Estimators other than exact take "
          "--optimizer sgd only, train the same run and write the same datasets, leaving out "
          "(and listing in the attribute not_applicable) those they give no signal for";
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

std::vector<std::string> WriteEstimate(H5Writer& writer, const EstimatedHypergradients& estimate,
                                       const EstimatorProblem& problem, std::span<const double> l2) {
  const std::vector<std::size_t> schedule_shape = {problem.schedule.iters, problem.schedule.blocks};
  std::vector<std::string> left_out;
  for (const HyperKind kind : {HyperKind::kW0, HyperKind::kAlpha, HyperKind::kV0, HyperKind::kGamma}) {
    const std::string name = std::string("d_") + HyperKindName(kind);
    if (!estimate.Applicable(kind)) {
      left_out.push_back(name);
    } else if (kind == HyperKind::kAlpha || kind == HyperKind::kGamma) {
      writer.Write("/" + name, estimate.Of(kind), schedule_shape);
    } else {
      writer.Write("/" + name, estimate.Of(kind));
    }
  }
  if (!l2.empty()) {
    if (estimate.Applicable(HyperKind::kTheta)) {
      writer.Write("/d_log_l2", BlockLogL2(problem.blocks, l2, estimate.d_theta));
    } else {
      left_out.push_back("d_log_l2");
    }
  }
  return left_out;
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ",") + name;
  return out;
}

}  // namespace hypergrad::experiments
