// reversal_check: trains a model (--model, from models/registry.h) forward with an exactly
// reversible optimizer (--optimizer, from optimizers/registry.h), runs the training backwards
// while computing hypergradients, and reports whether the initial weights and moments came back
// bit for bit, with the buffer's bits per parameter per iteration.
//
//   reversal_check --problem synthetic --iters 10000 --gamma 0.9 --buffer fast --json
//   reversal_check --optimizer adam --alpha 0.001 --beta1 0.9 --beta2 0.999 --iters 10000
//
// --alpha defaults to the optimizer's (OptimizerInfo::default_alpha: sgd 0.1, adam and rmsprop
// 0.01). A run that diverges gets a warning on stderr that says to lower --alpha: training that
// leaves the fixed-point range (an error, exit 1), or a run that ends with a training loss that
// is not finite or more than twice the loss at w_0, or with a weight at or beyond 1024 (half
// the range |w| < 2048 of w's fixed point) (exit 0 when the reversal was exact: it still was).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>
#include <nlohmann/json.hpp>

#include "common/cli_checks.h"
#include "common/guarded_main.h"
#include "common/mnist_source.h"
#include "common/provenance_json.h"
#include "common/progress.h"
#include "common/tool_run.h"
#include "models/registry.h"
#include "random/random.h"
#include "results/provenance.h"
#include "runtime/large_buffer.h"
#include "optimizers/registry.h"
#include "optimizers/reversible_sgd.h"
#include "optimizers/batch_schedule.h"
#include "runtime/parallel.h"

namespace hypergrad::experiments {
namespace {

struct Options {
  std::string problem = "synthetic";
  ModelFlags model_flags;  // --model and its flags (--layers: default depends on the problem)
  std::size_t iters = 1000;
  OptimizerFlags optimizer_flags;  // --optimizer and its flags
  std::optional<double> alpha;  // the optimizer's default_alpha unless given
  std::string buffer = "fast";
  std::string method = "reversible";
  std::size_t snapshots = 10;  // --method revolve
  std::uint64_t seed = 0;
  std::size_t batch_size = 0;  // default depends on the problem
  std::size_t train_size = 0;
  std::string mnist_dir = DefaultMnistDir();
  unsigned threads = 1;
  std::string gemm = "portable";  // --gemm: set while parsing (cli_checks.h)
  std::string gemm_variant = "auto";  // --gemm-variant (cli_checks.h), likewise
  bool json = false;
  bool quiet = false;
};

// x as the shortest of printf's %g forms that reads back exactly.
std::string Format(double x) {
  std::ostringstream text;
  text << std::setprecision(17) << x;
  for (int digits = 1; digits <= 17; ++digits) {
    std::ostringstream shorter;
    shorter << std::setprecision(digits) << x;
    if (std::stod(shorter.str()) == x) return shorter.str();
  }
  return text.str();
}

// The synthetic problem's model defaults (the flags of models that take them) and its data shape
// when the model's flags fix none.
const std::map<std::string, std::string> kSyntheticModelDefaults = {{"layers", "20,32,32,5"}};
constexpr DataShape kSyntheticShape{20, 5};

int Run(Options o, const Provenance& provenance) {
  const bool mnist = o.problem == "mnist";
  if (!mnist) o.model_flags.tool_defaults = kSyntheticModelDefaults;
  if (o.batch_size == 0) o.batch_size = mnist ? 200 : 64;
  if (o.train_size == 0) o.train_size = mnist ? 10000 : 1024;
  const ModelInfo& model_info = FindModel(o.model_flags.model);
  const std::map<std::string, std::string> model_settings = model_info.Flags(o.model_flags.Chosen());
  // The shape of the synthetic rows: the one the model's flags fix (the MLP's --layers), if any.
  const DataShape shape = model_info.shape(model_settings).value_or(kSyntheticShape);
  if (!mnist) {
    CheckFitsInMemory(8.0 * static_cast<double>(o.train_size) *
                          static_cast<double>(shape.inputs + shape.classes),
                      "--train-size " + std::to_string(o.train_size) + ": the synthetic rows");
  }

  std::shared_ptr<const Dataset> data;
  if (mnist) {
    if (o.train_size > 60000) {
      throw std::invalid_argument("--train-size " + std::to_string(o.train_size) +
                                  " exceeds the 60000 MNIST training images");
    }
    // The rows used, one byte per pixel (pixel/255 when read, the bits of the whole load).
    data = std::make_shared<const Dataset>(LoadMnistTrainingRowsFrom(
        o.mnist_dir, o.train_size, nullptr, true, o.threads, "--train-size"));
  } else {
    data = std::make_shared<const Dataset>(
        MakeSyntheticDataset(o.train_size, shape.inputs, shape.classes, o.seed));
  }
  if (o.batch_size > data->rows) throw std::invalid_argument("--batch-size exceeds the data");

  const ToolModel model = model_info.make(data, {model_settings, o.threads});
  CheckRunFitsInMemory(model_info.name, model);
  const std::size_t n = model.model->num_params();
  const ParameterBlocks blocks = ParameterBlocks::Single(n);
  // Initial weights N(0, 1)/√fan-in, in parameter order, zero moments.
  std::vector<double> w0(n);
  {
    const ParameterBlocks own = model.blocks();
    RandomStream rng(o.seed, {0});
    for (std::size_t k = 0; k < n; ++k) {
      w0[k] = 1.0 / std::sqrt(static_cast<double>(model.fan_in[own.block_of[k]])) * rng.Normal();
    }
  }

  TrainingOptions training{ParseReversalMethod(o.method), ParseBufferKind(o.buffer)};
  training.revolve_snapshots = o.snapshots;
  training.threads = o.threads;
  Progress forward("forward", o.iters, !o.quiet), reverse("reverse", o.iters, !o.quiet);
  training.on_step = [&](std::size_t t, std::span<const double>, double loss) {
    forward.Update(t + 1, "batch loss " + std::to_string(loss));
  };
  training.on_reverse_step = [&](std::size_t done) { reverse.Update(done); };
  const BatchSchedule batches = SequentialBatches(data->rows, o.batch_size);

  nlohmann::ordered_json out;
  const OptimizerInfo& optimizer = FindOptimizer(o.optimizer_flags.optimizer);
  const std::map<std::string, double> settings = o.optimizer_flags.Chosen();
  // The ratios n/d Algorithm 3 applies for the optimizer's decays, and the decays as text.
  std::vector<std::pair<std::string, DecayRatio>> ratios;
  std::string decays;
  for (const OptimizerFlag& flag : optimizer.flags) {
    const double value = settings.at(flag.name);
    if (flag.per_step) ratios.emplace_back(flag.name, DecayToRatio(value));
    decays += (decays.empty() ? "" : ", ") + flag.name + " " + Format(value);
  }
  const double alpha = o.alpha.value_or(optimizer.default_alpha);
  const auto warn_diverged = [&](const std::string& how) {
    std::cerr << "reversal_check: warning: the run diverged (" << how << "): lower --alpha (now "
              << alpha << (o.alpha ? "" : ", --optimizer " + optimizer.name + "'s default")
              << ")\n";
  };
  const double loss_at_w0 = model.objective(w0, {});
  ToolRun tool;
  try {
    tool = TrainAndReverseWithFlags(optimizer, settings, model, blocks, batches, o.iters, alpha,
                                    w0, training, forward, reverse);
  } catch (const FixedPointOverflow&) {
    warn_diverged("training left the fixed-point range or the model's arithmetic overflowed");
    throw;
  }
  const RunOutcome& outcome = tool.outcome;
  const std::unique_ptr<ReversibleTraining>& run = tool.run;
  const Hypergradients& h = outcome.hypergradients;
  const ReversalCheck reversal = h.reversal;
  double d_log_alpha = 0.0, entropy = 0.0;
  for (double d : h.d_alpha) d_log_alpha += alpha * d;
  for (const auto& [name, r] : ratios) entropy += std::log2(static_cast<double>(r.d) / r.n);
  std::string moment_error = "max";
  for (const NamedValues& m : h.d_u0) moment_error += "_" + m.name + "0";
  out["bitwise_equal"] = h.reversal.exact;
  out["buffer_empty_after_reverse"] = h.reversal.buffer_empty;
  out["max_w0_error"] = h.reversal.max_w0_error;
  out[moment_error + "_error"] = h.reversal.max_u0_error;
  out["problem"] = o.problem;
  out["optimizer"] = o.optimizer_flags.optimizer;
  out["model"] = o.model_flags.model;
  for (const auto& [name, value] : model_settings) out[name] = value;
  out["params"] = n;
  out["iters"] = o.iters;
  out["alpha"] = alpha;
  for (const OptimizerFlag& flag : optimizer.flags) out[flag.name] = settings.at(flag.name);
  if (ratios.size() == 1) {
    out["n"] = ratios[0].second.n;
    out["d"] = ratios[0].second.d;
  } else {
    for (const auto& [name, r] : ratios) out[name + "_ratio"] = {r.n, r.d};
  }
  out["method"] = o.method;
  if (o.method == "revolve") out["snapshots"] = o.snapshots;
  out["buffer"] = o.buffer;
  out["seed"] = o.seed;
  out["threads"] = o.threads;
  out["threads_used"] = std::min(o.threads, UsableCpus());  // at most the CPUs it may use
  out["gemm"] = o.gemm;
  out["batch_size"] = o.batch_size;
  out["train_size"] = o.train_size;
  out["final_train_loss"] = outcome.f;
  out["d_loss_d_log_alpha"] = d_log_alpha;
  out["info_bits_per_param_per_iter"] =
      outcome.information_bits / static_cast<double>(n * o.iters);
  out["entropy_bits_per_param_per_iter"] = entropy;
  out["allocated_bytes"] = outcome.extra_bytes;
  out["recomputed_steps"] = run->recomputed_steps();
  out["peak_extra_bytes"] = run->peak_extra_bytes();
  out["seconds_forward"] = outcome.seconds_forward;
  out["seconds_reverse"] = outcome.seconds_reverse;
  if (o.json) {
    out["provenance"] = ProvenanceJson(provenance);
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << o.problem << " " << o.model_flags.model << " " << model.description << ", " << n << " parameters, " << o.iters
              << " iterations, " << o.optimizer_flags.optimizer << ", alpha " << alpha << ", " << decays
              << ", " << o.method << " (" << o.buffer << " buffer)\n"
              << "  recovered w_0 and the moments bit for bit: "
              << (reversal.exact ? "yes" : "NO") << " (max errors " << reversal.max_w0_error
              << ", " << reversal.max_u0_error << ")\n"
              << "  final training loss " << out["final_train_loss"].get<double>()
              << "; d loss / d log alpha " << out["d_loss_d_log_alpha"].get<double>() << "\n"
              << "  buffer: " << out["info_bits_per_param_per_iter"].get<double>()
              << " bits per parameter per iteration (bound "
              << out["entropy_bits_per_param_per_iter"].get<double>() << "), "
              << out["allocated_bytes"].get<std::size_t>() << " bytes\n"
              << "  time: forward " << out["seconds_forward"].get<double>() << " s, reverse "
              << out["seconds_reverse"].get<double>() << " s\n";
  }
  // Diverged although it stayed in the fixed-point range: a loss that is not finite or more
  // than twice the loss at w_0, or weights at half the range.
  double largest_weight = 0.0;
  for (double w : outcome.w_T) largest_weight = std::max(largest_weight, std::fabs(w));
  if (!std::isfinite(outcome.f) || outcome.f > 2.0 * loss_at_w0 || largest_weight >= 1024.0) {
    std::ostringstream how;
    how << "final training loss " << outcome.f << " against " << loss_at_w0 << " at w_0, largest |w_T| "
        << largest_weight;
    warn_diverged(how.str());
  }
  const bool must_be_exact = o.method != "naive-float";
  return ReversalVerdict("reversal_check", reversal.exact || !must_be_exact,
                         "recover w_0 and the moments exactly");
}

}  // namespace
}  // namespace hypergrad::experiments

int main(int argc, char** argv) {
  (void)hypergrad::UseHugePagesForTheHeap();  // a short run's fixed cost was mostly page faults
  using namespace hypergrad::experiments;
  hypergrad::experiments::Options o;
  CLI::App app{
      "Trains a model (--model; a multilayer perceptron by default) with an exactly reversible "
      "optimizer (--optimizer), runs "
      "the training backwards computing hypergradients, and checks that the initial weights "
      "and the optimizer's moments are recovered bit for bit.",
      "reversal_check"};
  app.add_option("--problem", o.problem, "synthetic (generated data, no download) or mnist")
      ->check(CLI::IsMember({"synthetic", "mnist"}))
      ->capture_default_str();
  AddModelOptions(app, o.model_flags,
                  {{"layers", "default 20,32,32,5 synthetic, 784,50,50,50,10 mnist"}});
  app.add_option("--iters", o.iters, "training iterations T")
      ->transform(WholeNumber(1, 100000000))
      ->capture_default_str();
  AddOptimizerOptions(app, o.optimizer_flags);
  std::string default_alphas;
  for (const hypergrad::OptimizerInfo& info : hypergrad::Optimizers()) {
    default_alphas += (default_alphas.empty() ? "" : ", ") + info.name + " " +
                      hypergrad::experiments::Format(info.default_alpha);
  }
  app.add_option("--alpha", o.alpha,
                 "learning rate [default: the optimizer's, " + default_alphas + "]")
      ->check(RealNumber(0.0, 1e6));
  AddBufferOption(app, o.buffer);
  app.add_option("--method", o.method,
                 "reversible, stored, checkpointed (every ⌈√T⌉ steps), revolve (binomial "
                 "checkpointing with --snapshots) or naive-float")
      ->check(CLI::IsMember({"reversible", "stored", "checkpointed", "revolve", "naive-float"}))
      ->capture_default_str();
  app.add_option("--snapshots", o.snapshots, "snapshots of --method revolve")
      ->transform(WholeNumber(1, 1000))
      ->capture_default_str();
  AddSeedOption(app, o.seed, "seed of the data (synthetic) and initial weights");
  app.add_option("--batch-size", o.batch_size, "batch size (default 64 synthetic, 200 mnist)")
      ->transform(WholeNumber(1, std::uint64_t{1} << 32));
  app.add_option("--train-size", o.train_size,
                 "training rows (default 1024 synthetic, the first 10000 MNIST images)")
      ->transform(WholeNumber(1, std::uint64_t{1} << 32));
  app.add_option("--mnist-dir", o.mnist_dir, "folder with the MNIST idx files (this tool reads the two training files, "
                 "train-images-idx3-ubyte and train-labels-idx1-ubyte)")
      ->capture_default_str();
  AddPassThreadsOption(app, o.threads);
  AddGemmOption(app, o.gemm, o.gemm_variant);
  AddJsonAndQuietFlags(app, o.json, o.quiet);
  const hypergrad::Provenance provenance = hypergrad::CollectProvenance(argc, argv);
  return hypergrad::experiments::GuardedMain(app, argc, argv,
                                             [&] { return hypergrad::experiments::Run(o, provenance); });
}
