// hypergrad: the hypergradient of one configured training run on MNIST, written to HDF5.
//
// Trains --model (the registry's, models/registry.h: mlp [--layers] by default) on the first
// --train-size MNIST training images with an exactly reversible optimizer (--optimizer): SGD
// with momentum (reversible_sgd.h), Adam (reversible_adam.h, m_0 = s_0 = 0, bias-corrected, ε
// added to √ŝ) or RMSprop with momentum (reversible_rmsprop.h, s_0 = m_0 = 0), one α (and γ;
// β1, β2; or ρ, μ) for every block and iteration, initial weights exp(log-init-scale)·N(0, 1)
// from --seed or read from --w0; then runs training backwards. Objective: the model's
// (ToolModel::objective, its words in the attribute objective): for the MLP and the logistic
// model the mean cross-entropy on all N training images at w_T (no L2). --log-l2 X adds the
// training penalty Σ_k λ_k w_k², λ_k = exp(X) for every parameter, one log λ per block (the
// objective stays without it), and its hypergradient /d_log_l2 (B values). --estimator NAME (SGD only, but exact) estimates the
// hypergradients instead with an estimator of lib/estimators/ (registry.h), its flags
// --truncation, --terms, --tolerance, --samples, --sigma (each refused, naming the estimator and
// the range, outside its range or for an estimator that does not take it; --truncation above
// --iters is refused). neumann and cg estimate only θ, the hyperparameters the training loss
// depends on explicitly: they need --log-l2 (a model with per-parameter penalties, --model mlp).
//
// Datasets, SGD: /w_T, /v_T, /loss_final, /d_w0, /d_v0, /d_alpha and /d_gamma; Adam: /w_T,
// /m_T, /s_T, /loss_final, /d_w0, /d_m0, /d_s0, /d_alpha, /d_beta1, /d_beta2 and /d_eps; RMSprop:
// the same with /d_rho, /d_mu for /d_beta1, /d_beta2. The
// schedule entries are T × blocks, with respect to the values themselves (not their logs).
// An estimator other than exact writes the same names, leaving out those it gives no signal for
// (listed in the attribute not_applicable). forward (forward mode) computes per-block constants
// only and writes /d_alpha_block, /d_gamma_block (B values: ∂f/∂α_j, ∂f/∂γ_j for one α and γ
// per block over all steps, the sums over t of the exact /d_alpha, /d_gamma) and
// /d_log_init_scale (B: ∂f/∂log s_j = Σ_{k in block j} ∂f/∂w_0[k]·w_0[k], for w_0 scaled by
// e^{log s_j} on block j) instead of /d_alpha, /d_gamma, /d_w0, /d_v0. cg records
// cg_iterations (run) and cg_relative_residual (‖r‖/‖∇_w f‖ at its end); truncated records
// information_bits and trajectory_peak_bytes. Non-finite values among the hypergradients written
// (DrMAD's reverse pass can overflow at long horizons) are counted in the attributes
// nonfinite_values (total) and nonfinite_datasets ("/d_alpha 12, ..."), and reported on stderr
// as a warning naming the estimator (also with --quiet). Every estimator writes /w_T, /v_T,
// /loss_final of the run it trained
// (attribute final_state_run, written by every estimator: "fixed point" for exact, truncated, es
// and pes, "float64" for the others, whose float64 run differs from the fixed-point one by
// rounding, ~1e-11 per step).
// Attributes: reversal_exact (exact only), model and its flags, optimizer, estimator and its
// settings, every setting, provenance.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <memory>
#include <optional>

#include "common/cli_checks.h"
#include "common/guarded_main.h"
#include "common/mnist_source.h"
#include "common/progress.h"
#include "common/tool_estimator.h"
#include "common/tool_run.h"
#include "models/registry.h"
#include "random/random.h"
#include "results/h5_writer.h"
#include "results/provenance.h"
#include "runtime/large_buffer.h"
#include "optimizers/registry.h"
#include "optimizers/reversible_sgd.h"
#include "optimizers/batch_schedule.h"
#include "runtime/parallel.h"

namespace hypergrad::experiments {
namespace {

struct Options {
  ModelFlags model_flags;  // --model and its flags (--layers, --tanh, ...)
  std::size_t train_size = 10000;
  std::size_t batch_size = 200;
  std::string batch_order = "sequential";
  std::string normalize = "mean";
  std::size_t iters = 100;
  double log_alpha = -1.0;
  OptimizerFlags optimizer_flags{"sgd", {{"gamma", 0.5}}};  // --optimizer and its flags
  double log_init_scale = -3.0;
  std::uint64_t seed = 0;
  std::string w0_file;
  std::string blocks = "layer-params";
  std::string buffer = "fast";
  std::string out = "hypergrad.h5";
  std::string mnist_dir = DefaultMnistDir();
  unsigned threads = 1;
  std::string gemm = "portable";  // --gemm: set while parsing (cli_checks.h)
  std::string gemm_variant = "auto";  // --gemm-variant (cli_checks.h), likewise
  bool quiet = false;
  EstimatorChoice estimator;      // --estimator and its flags
  std::optional<double> log_l2;   // --log-l2: log λ of every block
};

// The SGD run of `model` as an estimator's problem: constant α and γ, v_0 = 0, the objective the
// model's (mean NLL on all training rows, no penalty, so no direct term in θ); θ = λ per
// parameter (`l2`, empty without --log-l2), each value the model with that penalty (with_l2).
EstimatorProblem SgdProblem(const ToolModel& model, const ParameterBlocks& blocks,
                            const BatchSchedule& batches, std::size_t iters, double alpha,
                            double gamma, std::vector<double> w0, const std::vector<double>& l2) {
  EstimatorProblem p;
  p.model = model.model;
  p.blocks = blocks;
  p.schedule = SgdSchedule::Constant(iters, blocks.num_blocks(), alpha, gamma);
  p.batches = batches;
  p.v0.assign(w0.size(), 0.0);
  p.w0 = std::move(w0);
  p.objective = [objective = model.objective](std::span<const double> w, std::span<double> d_w,
                                              std::span<double> d_theta) {
    for (double& x : d_theta) x = 0.0;
    return objective(w, d_w);
  };
  if (!l2.empty()) {
    p.theta = l2;
    p.make_model = model.with_l2;
  }
  return p;
}

int Run(const Options& o, const Provenance& provenance) {
  // Only the rows used are held, one byte per pixel, and converted (pixel/255 − mean, the same
  // bits as converting up front) batch by batch; the mean image is accumulated while reading,
  // on --threads (hashing beside it).
  std::vector<double> mean;
  Dataset rows = LoadMnistTrainingRowsFrom(o.mnist_dir, o.train_size,
                                           o.normalize == "mean" ? &mean : nullptr, true, o.threads,
                                           "--train-size");
  rows.pixel_offset = std::move(mean);
  auto data = std::make_shared<const Dataset>(std::move(rows));
  if (o.batch_size > data->rows) {
    throw std::invalid_argument("--batch-size " + std::to_string(o.batch_size) +
                                " exceeds --train-size " + std::to_string(data->rows));
  }

  const ModelInfo& model_info = FindModel(o.model_flags.model);
  const std::map<std::string, std::string> model_settings = o.model_flags.Chosen();
  ToolModel model = model_info.Make(data, model_settings, o.threads);
  CheckRunFitsInMemory(model_info.name, model);
  const std::size_t n = model.model->num_params();
  const EstimatorFlags estimator_flags =
      ResolveEstimatorFlags(o.estimator, o.seed, o.optimizer_flags.optimizer);
  CheckEstimatorFitsRun(o.estimator.name, estimator_flags, o.iters, model_info.name,
                        static_cast<bool>(model.with_l2), o.log_l2.has_value());
  // --log-l2: λ = exp(X) for every parameter, θ = λ (one value per parameter; BlockLogL2 sums
  // them to one log λ per block); the objective stays without it.
  std::vector<double> l2;
  if (o.log_l2) {
    if (!model.with_l2) {
      throw std::invalid_argument("--log-l2: --model " + model_info.name +
                                  " has no per-parameter L2 penalty");
    }
    l2.assign(n, std::exp(*o.log_l2));
    model.model = model.with_l2(l2);
  }
  const ParameterBlocks blocks =
      o.blocks == "layer-params" ? model.blocks() : ParameterBlocks::Single(n);
  std::vector<double> w0;
  InitialWeightsFile w0_file;  // provenance of --w0
  if (!o.w0_file.empty()) {
    w0_file = ReadInitialWeights(o.w0_file, n);
    w0 = std::move(w0_file.w0);
  } else {
    RandomStream rng(o.seed, {0});
    const double scale = std::exp(o.log_init_scale);
    w0.resize(n);
    for (double& w : w0) w = scale * rng.Normal();
  }
  const std::vector<double> v0(n, 0.0);
  const BatchSchedule batches = o.batch_order == "sequential"
                                    ? SequentialBatches(data->rows, o.batch_size)
                                    : RandomBatches(data->rows, o.batch_size, o.seed, 1);
  const double alpha = std::exp(o.log_alpha);

  TrainingOptions training{ReversalMethod::kReversible, ParseBufferKind(o.buffer)};
  training.threads = o.threads;
  Progress forward("forward", o.iters, !o.quiet), reverse("reverse", o.iters, !o.quiet);
  training.on_step = [&](std::size_t t, std::span<const double>, double loss) {
    forward.Update(t + 1, "batch loss " + std::to_string(loss));
  };
  training.on_reverse_step = [&](std::size_t done) { reverse.Update(done); };
  H5Writer writer(o.out);
  const std::vector<std::size_t> schedule_shape = {o.iters, blocks.num_blocks()};
  const OptimizerInfo& optimizer = FindOptimizer(o.optimizer_flags.optimizer);
  const std::map<std::string, double> settings = o.optimizer_flags.Chosen();
  double loss_final = 0.0;
  bool exact = true;  // the exact pass's reversal check; other estimators check none
  std::vector<std::string> not_applicable;
  NonFiniteCounts nonfinite;
  if (o.estimator.name == "exact") {
    const ToolRun tool = TrainAndReverseWithFlags(optimizer, settings, model, blocks, batches,
                                                  o.iters, alpha, w0, training, forward, reverse);
    const RunOutcome& outcome = tool.outcome;
    const Hypergradients& h = outcome.hypergradients;
    // Every hypergradient by its name: /d_w0, /d_alpha, /d_<moment>0, /d_<schedule>, /d_<scalar>.
    writer.Write("/w_T", outcome.w_T);
    writer.WriteScalar("/loss_final", outcome.f);
    WriteCounted(writer, "/d_w0", h.d_w0, {}, nonfinite);
    WriteCounted(writer, "/d_alpha", h.d_alpha, schedule_shape, nonfinite);
    for (std::size_t i = 0; i < h.d_u0.size(); ++i) {
      const auto u_T = std::span(outcome.u_T).subspan(i * n, n);
      writer.Write("/" + h.d_u0[i].name + "_T", std::vector<double>(u_T.begin(), u_T.end()));
      WriteCounted(writer, "/d_" + h.d_u0[i].name + "0", h.d_u0[i].values, {}, nonfinite);
    }
    for (const NamedValues& d : h.d_schedules) {
      WriteCounted(writer, "/d_" + d.name, d.values, schedule_shape, nonfinite);
    }
    for (const NamedValues& d : h.d_scalars) {
      writer.WriteScalar("/d_" + d.name, d.values[0]);
      if (const std::size_t bad = CountNonFinite(d.values)) nonfinite.emplace_back("/d_" + d.name, bad);
    }
    if (!l2.empty()) {
      WriteCounted(writer, "/d_log_l2", BlockLogL2(blocks, l2, h.d_theta), {}, nonfinite);
    }
    writer.SetAttribute("/", "info_bits", outcome.information_bits);
    writer.SetAttribute("/", "reversal_exact", h.reversal.exact);
    writer.SetAttribute("/", "final_state_run", std::string("fixed point"));
    loss_final = outcome.f;
    exact = h.reversal.exact;
  } else {
    // SGD (ResolveEstimatorFlags refused the others): the estimator, then the state of the
    // fixed-point run it estimates the hypergradients of.
    EstimatorProblem problem = SgdProblem(model, blocks, batches, o.iters, alpha,
                                          settings.at("gamma"), w0, l2);
    // A progress line for the estimators with long loops (es, pes, forward, greedy).
    std::unique_ptr<Progress> progress;
    if (!o.quiet) {
      problem.progress = [&progress, &o](std::size_t done, std::size_t total) {
        if (!progress) progress = std::make_unique<Progress>(o.estimator.name, total, true);
        progress->Update(done);
      };
    }
    EstimatorFlags flags = estimator_flags;
    flags.exact_options = TrainingOptions{ReversalMethod::kReversible, ParseBufferKind(o.buffer)};
    flags.exact_options.threads = o.threads;
    if (!o.quiet) std::cerr << "hypergrad: running estimator " << o.estimator.name << "\n";
    BlockHypergradients reduced;
    const EstimatedHypergradients estimate =
        MakeEstimator(o.estimator.name, flags)->Estimate(problem, &reduced);
    if (progress) progress->Finish();
    // The run the estimator trained; ES and PES train perturbed runs only, so the fixed-point
    // run is trained here for the file.
    FinalState state = estimate.final_state;
    if (state.empty()) {
      const TrainedState trained = TrainFixedPoint(problem, flags.exact_options);
      state = {trained.w_T, trained.v_T, trained.loss_final, "fixed point"};
    }
    writer.Write("/w_T", state.w_T);
    writer.WriteScalar("/loss_final", state.f);
    writer.Write("/v_T", state.v_T);
    writer.SetAttribute("/", "final_state_run", state.run);
    WrittenEstimate written = WriteEstimate(writer, estimate, reduced, problem, l2);
    not_applicable = std::move(written.not_applicable);
    nonfinite = std::move(written.nonfinite);
    // What the estimator measured about its run (cg's iterations and residual, ...).
    for (const auto& [name, value] : estimate.diagnostics) writer.SetAttribute("/", name, value);
    writer.SetAttribute("/", "estimator_warning", estimate.warning);  // "" when none
    // The name the run without --estimator gives the buffer's size (exact, truncated).
    if (const auto bits = estimate.diagnostics.find("information_bits");
        bits != estimate.diagnostics.end()) {
      writer.SetAttribute("/", "info_bits", bits->second);
    }
    if (!estimate.warning.empty()) std::cerr << "hypergrad: warning: " << estimate.warning << "\n";
    loss_final = state.f;
  }
  for (const auto& [name, value] : settings) writer.SetAttribute("/", name, value);
  WriteEstimatorAttributes(writer, o.estimator.name, estimator_flags);
  writer.SetAttribute("/", "not_applicable", JoinNames(not_applicable));
  ReportNonFinite(writer, "hypergrad", o.estimator.name, nonfinite);
  if (o.log_l2) writer.SetAttribute("/", "log_l2", *o.log_l2);
  writer.SetAttribute("/", "optimizer", o.optimizer_flags.optimizer);
  writer.SetAttribute("/", "model", o.model_flags.model);
  for (const auto& [name, value] : model_settings) writer.SetAttribute("/", name, value);
  writer.SetAttribute("/", "train_size", static_cast<std::int64_t>(o.train_size));
  writer.SetAttribute("/", "batch_size", static_cast<std::int64_t>(o.batch_size));
  writer.SetAttribute("/", "batch_order", o.batch_order);
  writer.SetAttribute("/", "normalize", o.normalize);
  writer.SetAttribute("/", "iters", static_cast<std::int64_t>(o.iters));
  writer.SetAttribute("/", "log_alpha", o.log_alpha);
  writer.SetAttribute("/", "log_init_scale", o.log_init_scale);
  writer.SetAttribute("/", "seed", static_cast<std::int64_t>(o.seed));
  writer.SetAttribute("/", "w0_file", w0_file.absolute_path);  // "" without --w0
  writer.SetAttribute("/", "w0_sha256", w0_file.sha256);
  writer.SetAttribute("/", "blocks", o.blocks);
  std::string names;
  for (const auto& name : blocks.names) names += (names.empty() ? "" : ",") + name;
  writer.SetAttribute("/", "block_names", names);
  writer.SetAttribute("/", "buffer", o.buffer);
  writer.SetAttribute("/", "threads", static_cast<std::int64_t>(o.threads));
  // What ran: at most the CPUs the process may use (the results are the same bits either way).
  writer.SetAttribute("/", "threads_used", static_cast<std::int64_t>(std::min(o.threads, UsableCpus())));
  WriteDataFiles(writer);
  writer.SetAttribute("/", "objective", model.objective_text);
  WriteProvenance(writer, provenance, false);
  writer.Commit();

  if (!o.quiet) {
    std::cerr << "hypergrad: wrote " << o.out << " (final training loss " << loss_final;
    if (o.estimator.name == "exact") std::cerr << ", reversal " << (exact ? "exact" : "NOT exact");
    std::cerr << ")\n";
  }
  if (o.estimator.name != "exact") return 0;  // no reversal checked
  return ReversalVerdict("hypergrad", exact, "recover the initial state exactly");
}

}  // namespace
}  // namespace hypergrad::experiments

int main(int argc, char** argv) {
  (void)hypergrad::UseHugePagesForTheHeap();  // a short run's fixed cost was mostly page faults
  using namespace hypergrad::experiments;
  const hypergrad::Provenance provenance = hypergrad::CollectProvenance(argc, argv);
  hypergrad::experiments::Options o;
  CLI::App app{
      "Computes the hypergradient of one training run of a model (--model) on MNIST by exact "
      "reversible learning (Maclaurin et al. 2015) and writes it to HDF5: d loss / d w0 and "
      "d alpha per iteration and parameter block, and those of the optimizer's own moments "
      "and hyperparameters, named as it names them (sgd: d v0, d gamma; adam: d m0, d s0, "
      "d beta1, d beta2, d eps; rmsprop: d s0, d m0, d rho, d mu, d eps).",
      "hypergrad"};
  AddModelOptions(app, o.model_flags);
  app.add_option("--train-size", o.train_size, "use the first N MNIST training images")
      ->transform(WholeNumber(1, 60000))
      ->capture_default_str();
  app.add_option("--batch-size", o.batch_size, "batch size B")
      ->transform(WholeNumber(1, 60000))
      ->capture_default_str();
  app.add_option("--batch-order", o.batch_order,
                 "sequential: batch t is rows [(t mod (N/B))·B, +B); random: B rows drawn "
                 "with replacement, seeded by (seed, t)")
      ->check(CLI::IsMember({"sequential", "random"}))
      ->capture_default_str();
  app.add_option("--normalize", o.normalize,
                 "none: pixels/255; mean: also subtract the mean image of every image in the "
                 "training file (60,000 in MNIST)")
      ->check(CLI::IsMember({"none", "mean"}))
      ->capture_default_str();
  app.add_option("--iters", o.iters, "training iterations T")
      ->transform(WholeNumber(1, 1000000))
      ->capture_default_str();
  app.add_option("--log-alpha", o.log_alpha, "log learning rate (all blocks and iterations)")
      ->check(RealNumber(-50.0, 10.0))
      ->capture_default_str();
  AddOptimizerOptions(app, o.optimizer_flags);
  AddEstimatorOptions(app, o.estimator);
  app.add_option("--log-l2", o.log_l2,
                 "train with the L2 penalty sum_k exp(X)·w_k², one log penalty X per block (the "
                 "objective stays without it) and write its hypergradient /d_log_l2 (one value per "
                 "block); without it, no penalty")
      ->check(RealNumber(-50.0, 10.0));
  app.add_option("--log-init-scale", o.log_init_scale,
                 "initial weights are exp(s)·N(0, 1)")
      ->check(RealNumber(-50.0, 5.0))
      ->capture_default_str();
  AddSeedOption(app, o.seed, "seed of the initial weights and random batches");
  app.add_option("--w0", o.w0_file, "HDF5 file whose float64 dataset /w0 holds the initial "
                                    "weights (overrides --seed for them; other types are refused, "
                                    "not converted; its absolute path and SHA-256 are recorded)")
      ->check(CLI::ExistingFile);
  app.add_option("--blocks", o.blocks,
                 "layer-params: the model's own blocks (mlp: the weights and biases of each "
                 "layer); single: one block")
      ->check(CLI::IsMember({"layer-params", "single"}))
      ->capture_default_str();
  AddBufferOption(app, o.buffer);
  app.add_option("--out", o.out,
                 "output HDF5 file, checked before the run; an existing regular file is replaced "
                 "(keeping its mode), anything else (folder, device, FIFO, symlink) is refused")
      ->check([](const std::string& path) { return path.empty() ? std::string("the path is empty") : std::string(); })
      ->capture_default_str();
  app.add_option("--mnist-dir", o.mnist_dir, "folder with the MNIST idx files (this tool reads the two training files, "
                 "train-images-idx3-ubyte and train-labels-idx1-ubyte)")
      ->capture_default_str();
  AddPassThreadsOption(app, o.threads);
  AddGemmOption(app, o.gemm, o.gemm_variant);
  app.add_flag("--quiet", o.quiet, "no progress lines on stderr");
  return hypergrad::experiments::GuardedMain(
      app, argc, argv, [&] {
        // Before the run and before any file: a wrong estimator flag writes nothing.
        const hypergrad::EstimatorFlags flags =
            hypergrad::experiments::ResolveEstimatorFlags(o.estimator, o.seed, o.optimizer_flags.optimizer);
        if (flags.truncation && *flags.truncation > o.iters) {
          throw std::invalid_argument("--estimator " + o.estimator.name + ": --truncation " +
                                      std::to_string(*flags.truncation) + " exceeds the run's T = " +
                                      std::to_string(o.iters) + " (--iters)");
        }
        hypergrad::CheckResultPath(o.out);  // before the run, not after it
        return hypergrad::experiments::Run(o, provenance);
      });
}
