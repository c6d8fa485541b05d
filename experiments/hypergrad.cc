// hypergrad: the hypergradient of one configured training run on MNIST, written to HDF5.
//
// Trains [--layers] on the first --train-size MNIST training images with an exactly reversible
// optimizer (--optimizer): SGD with momentum (reversible_sgd.h), Adam (reversible_adam.h,
// m_0 = s_0 = 0, bias-corrected, ε added to √ŝ) or RMSprop with momentum (reversible_rmsprop.h,
// s_0 = m_0 = 0), one α (and γ; β1, β2; or ρ, μ) for every block and
// iteration, initial weights exp(log-init-scale)·N(0, 1) from --seed or read from --w0; then
// runs training backwards. Objective: mean cross-entropy on all N training images at w_T (no L2).
//
// Datasets, SGD: /w_T, /v_T, /loss_final, /d_w0, /d_v0, /d_alpha and /d_gamma; Adam: /w_T,
// /m_T, /s_T, /loss_final, /d_w0, /d_m0, /d_s0, /d_alpha, /d_beta1, /d_beta2 and /d_eps; RMSprop:
// the same with /d_rho, /d_mu for /d_beta1, /d_beta2. The
// schedule entries are T × blocks, with respect to the values themselves (not their logs).
// Attributes: reversal_exact, optimizer, every setting, provenance.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <iostream>

#include "common/cli_checks.h"
#include "common/guarded_main.h"
#include "common/mnist_source.h"
#include "common/progress.h"
#include "common/tool_run.h"
#include "models/mlp.h"
#include "random/random.h"
#include "results/h5_writer.h"
#include "results/provenance.h"
#include "optimizers/registry.h"
#include "optimizers/reversible_sgd.h"
#include "optimizers/batch_schedule.h"

namespace hypergrad::experiments {
namespace {

struct Options {
  std::string layers = "784,50,50,50,10";
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
  std::string tanh = "libm";
  bool quiet = false;
};

int Run(const Options& o, const Provenance& provenance) {
  const MlpLayout layout = MlpLayout::Parse(o.layers);
  if (layout.sizes().front() != 784 || layout.sizes().back() != 10) {
    throw std::invalid_argument("--layers must start with 784 (pixels) and end with 10 (digits)");
  }
  // w, v, g, the adjoints and work vectors: about 16 doubles per parameter.
  CheckFitsInMemory(16.0 * 8.0 * static_cast<double>(layout.num_params()),
                    "--layers " + o.layers + ": " + std::to_string(layout.num_params()) + " parameters");
  // Only the rows used are held, one byte per pixel, and converted (pixel/255 − mean, the same
  // bits as converting up front) batch by batch; the mean image is accumulated while reading.
  std::vector<double> mean;
  Dataset rows = LoadMnistTrainingRowsFrom(o.mnist_dir, o.train_size,
                                           o.normalize == "mean" ? &mean : nullptr, true);
  rows.pixel_offset = std::move(mean);
  auto data = std::make_shared<const Dataset>(std::move(rows));
  if (o.batch_size > data->rows) {
    throw std::invalid_argument("--batch-size " + std::to_string(o.batch_size) +
                                " exceeds --train-size " + std::to_string(data->rows));
  }

  auto model = std::make_shared<const Mlp>(MlpOptions{layout.sizes(), {}, false, false, o.threads, ParseTanhKernel(o.tanh)}, data);
  const std::size_t n = model->num_params();
  const ParameterBlocks blocks =
      o.blocks == "layer-params" ? layout.LayerParamBlocks() : ParameterBlocks::Single(n);
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
  const ToolRun tool = TrainAndReverseWithFlags(optimizer, settings, model, blocks, batches,
                                                o.iters, alpha, w0, training, forward, reverse);
  const RunOutcome& outcome = tool.outcome;
  const Hypergradients& h = outcome.hypergradients;
  // Every hypergradient by its name: /d_w0, /d_alpha, /d_<moment>0, /d_<schedule>, /d_<scalar>.
  writer.Write("/w_T", outcome.w_T);
  writer.WriteScalar("/loss_final", outcome.f);
  writer.Write("/d_w0", h.d_w0);
  writer.Write("/d_alpha", h.d_alpha, schedule_shape);
  for (std::size_t i = 0; i < h.d_u0.size(); ++i) {
    const auto u_T = std::span(outcome.u_T).subspan(i * n, n);
    writer.Write("/" + h.d_u0[i].name + "_T", std::vector<double>(u_T.begin(), u_T.end()));
    writer.Write("/d_" + h.d_u0[i].name + "0", h.d_u0[i].values);
  }
  for (const NamedValues& d : h.d_schedules) writer.Write("/d_" + d.name, d.values, schedule_shape);
  for (const NamedValues& d : h.d_scalars) writer.WriteScalar("/d_" + d.name, d.values[0]);
  writer.SetAttribute("/", "info_bits", outcome.information_bits);
  writer.SetAttribute("/", "reversal_exact", h.reversal.exact);
  for (const auto& [name, value] : settings) writer.SetAttribute("/", name, value);
  const double loss_final = outcome.f;
  const bool exact = h.reversal.exact;
  writer.SetAttribute("/", "optimizer", o.optimizer_flags.optimizer);
  writer.SetAttribute("/", "layers", o.layers);
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
  writer.SetAttribute("/", "tanh", o.tanh);
  WriteDataFiles(writer);
  writer.SetAttribute("/", "objective", "mean cross-entropy on all training images at w_T, no L2");
  WriteProvenance(writer, provenance, false);
  writer.Commit();

  if (!o.quiet) {
    std::cerr << "hypergrad: wrote " << o.out << " (final training loss " << loss_final
              << ", reversal " << (exact ? "exact" : "NOT exact") << ")\n";
  }
  return ReversalVerdict("hypergrad", exact, "recover the initial state exactly");
}

}  // namespace
}  // namespace hypergrad::experiments

int main(int argc, char** argv) {
  using namespace hypergrad::experiments;
  const hypergrad::Provenance provenance = hypergrad::CollectProvenance(argc, argv);
  hypergrad::experiments::Options o;
  CLI::App app{
      "Computes the hypergradient of one training run of a network on MNIST by exact "
      "reversible learning (Maclaurin et al. 2015) and writes it to HDF5: d loss / d w0 and "
      "d alpha per iteration and parameter block, and d v0, d gamma (SGD with momentum) or d "
      "m0, d s0, d beta1, d beta2, d eps (Adam).",
      "hypergrad"};
  app.add_option("--layers", o.layers, "layer sizes, 784,...,10")->check(LayerSizes())->capture_default_str();
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
                 "none: pixels/255; mean: also subtract the mean image of the 60000 training "
                 "images")
      ->check(CLI::IsMember({"none", "mean"}))
      ->capture_default_str();
  app.add_option("--iters", o.iters, "training iterations T")
      ->transform(WholeNumber(1, 1000000))
      ->capture_default_str();
  app.add_option("--log-alpha", o.log_alpha, "log learning rate (all blocks and iterations)")
      ->check(RealNumber(-50.0, 10.0))
      ->capture_default_str();
  AddOptimizerOptions(app, o.optimizer_flags);
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
                 "layer-params: weights and biases of each layer; single: one block")
      ->check(CLI::IsMember({"layer-params", "single"}))
      ->capture_default_str();
  AddBufferOption(app, o.buffer);
  app.add_option("--out", o.out,
                 "output HDF5 file, checked before the run; an existing regular file is replaced "
                 "(keeping its mode), anything else (folder, device, FIFO, symlink) is refused")
      ->check([](const std::string& path) { return path.empty() ? std::string("the path is empty") : std::string(); })
      ->capture_default_str();
  app.add_option("--mnist-dir", o.mnist_dir, "folder with the four MNIST idx files")
      ->capture_default_str();
  AddPassThreadsOption(app, o.threads);
  AddTanhOption(app, o.tanh);
  app.add_flag("--quiet", o.quiet, "no progress lines on stderr");
  return hypergrad::experiments::GuardedMain(
      app, argc, argv, [&] {
        hypergrad::CheckResultPath(o.out);  // before the run, not after it
        return hypergrad::experiments::Run(o, provenance);
      });
}
