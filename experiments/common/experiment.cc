#include "common/experiment.h"

#include <cmath>
#include <iostream>
#include <map>
#include <sstream>

#include "common/cli_checks.h"
#include "common/distributed.h"
#include "common/guarded_main.h"
#include "common/mnist_source.h"
#include "data/sha256.h"
#include "random/numpy_random.h"
#include "random/random.h"
#include "runtime/large_buffer.h"

namespace hypergrad::experiments {

std::string_view StreamsName(Streams streams) {
  switch (streams) {
    case Streams::kAuthors: return "authors";
    case Streams::kNative: return "native";
    case Streams::kNone: break;
  }
  return "none";
}

namespace {

// What the "rng" attribute says about the draws.
std::string StreamsDetail(Streams streams) {
  switch (streams) {
    case Streams::kAuthors:
      return "numpy legacy RandomState (MT19937, polar normals, masked randint) in the order of "
             "the authors' code; util.RandomState(obj) seeds = first 8 hex digits of md5(str(obj))";
    case Streams::kNative:
      return "counter-based SplitMix64 streams named by (seed, path), random.h";
    case Streams::kNone: break;
  }
  return "the target draws no random numbers";
}

// An option taking one of the names in `choices`, shown with its default.
template <class T>
void AddChoice(CLI::App& app, const std::string& flag, T& value, const std::map<std::string, T>& choices,
               std::string_view default_name, const std::string& help) {
  std::vector<std::string> keys;
  for (const auto& [name, _] : choices) keys.push_back(name);
  app.add_option_function<std::string>(flag, [&value, choices](const std::string& name) { value = choices.at(name); },
                                       help)
      ->check(CLI::IsMember(keys))
      ->default_str(std::string(default_name));
}

// What must be the same on every MPI rank (RequireAgreement), one "name = value" line each:
// every setting as parsed but --quiet (`settings`, CLI11's "name=value" lines, defaults
// included; --quiet only silences ranks that are silent anyway), the build (git revision and
// state, compiler, build type and instruction set, library versions and the executable's
// SHA-256, since a dirty tree's revision does not name its sources), and the SHA-256 of every
// data file read so far.
std::string RunFacts(const std::string& settings, const Provenance& p) {
  std::string facts;
  std::istringstream lines(settings);
  for (std::string line; std::getline(lines, line);) {
    const std::size_t eq = line.find('=');
    if (line.substr(0, eq) == "quiet") continue;  // only rank 0 reports anyway
    facts += eq == std::string::npos ? line + "\n" : line.substr(0, eq) + " = " + line.substr(eq + 1) + "\n";
  }
  static const std::string executable = Sha256OfFile("/proc/self/exe");
  facts += "git revision = " + p.git_revision + "\ngit dirty = " + p.git_dirty + "\ncompiler = " + p.compiler +
           "\nbuild type = " + p.build_type + "\ninstruction set = " + p.instruction_set +
           "\nlibrary versions = " + p.library_versions + "\nexecutable sha256 = " + executable + "\n";
  for (const DataFileRecord& r : DataFilesRead()) facts += "data file " + r.path + " = sha256:" + r.sha256 + "\n";
  return facts;
}

}  // namespace

std::vector<double> SeededInitialWeights(std::size_t n, double log_scale, std::uint64_t seed,
                                         Streams streams) {
  std::vector<double> w0(n);
  const double scale = std::exp(log_scale);  // the C library's exp, as numpy's of 2015
  if (streams == Streams::kAuthors) {
    if (seed > 0xFFFFFFFFu) {
      throw std::invalid_argument("seed " + std::to_string(seed) + ": numpy seeds are below 2^32");
    }
    NumpyRandomState rng(static_cast<std::uint32_t>(seed));
    rng.SkipNormals(n);
    for (double& w : w0) w = rng.StandardNormal() * scale;
    return w0;
  }
  RandomStream rng(seed, {0});
  for (double& w : w0) w = scale * rng.Normal();
  return w0;
}

void AddExperimentOptions(CLI::App& app, ExperimentOptions& options) {
  app.add_flag("--quick", options.quick,
               "small grids and few meta-iterations (smoke tests, make reproduce QUICK=1)");
  app.add_option("--out", options.out,
                 "result file (default results/<name>.h5, or results/quick/<name>.h5 with --quick, "
                 "relative to the current folder, not to the project; `make` gives --out under the "
                 "project's results/); checked before the run; an existing regular file is replaced "
                 "(keeping its mode), anything else (folder, device, FIFO, symlink) is refused")
      ->check([](const std::string& path) { return path.empty() ? std::string("the path is empty") : std::string(); });
  AddSeedOption(app, options.seed, "random seed");
  app.add_option("--threads", options.threads,
                 "threads for independent pieces of work side by side (the runs of a sweep, "
                 "seeds, Omniglot's tasks), each piece computed whole by one thread; the same bits "
                 "for any number (unlike hypergrad and reversal_check, whose --threads splits "
                 "every step of their one run)")
      ->transform(WholeNumber(1, 64))
      ->capture_default_str();
  app.add_flag("--quiet", options.quiet, "no progress lines on stderr");
  AddGemmOption(app, options.gemm, options.gemm_variant);
  if (options.streams != Streams::kNone) {
    AddChoice(app, "--rng", options.streams,
              {{"authors", Streams::kAuthors}, {"native", Streams::kNative}}, StreamsName(options.streams),
              "whose random draws: 'authors' (numpy's legacy RandomState seeded and drawn as the "
              "authors' code does) or 'native' (this suite's counter-based streams)");
  }
  AddChoice(app, "--buffer", options.buffer, {{"exact", BufferKind::kExact}, {"fast", BufferKind::kFast}},
            BufferKindName(options.buffer),
            "information buffer: 'exact' (the authors' big integers: their digits, their "
            "trajectory) or 'fast' (rANS coder: other exact digits)");
}

std::string ResultPath(const ExperimentOptions& options, const std::string& name) {
  if (!options.out.empty()) return options.out;
  return std::string(options.quick ? "results/quick/" : "results/") + name + ".h5";
}

int ExperimentMain(int argc, char** argv, const std::string& name, const std::string& description,
                   const std::function<void(CLI::App&)>& add_options,
                   const std::function<int(const ExperimentOptions&, const Provenance&)>& run,
                   const ExperimentOptions& defaults) {
  (void)UseHugePagesForTheHeap();  // before MPI and the run's threads start
  const MpiSession mpi(&argc, &argv);  // a no-op unless started by mpirun/srun
  const Provenance provenance = CollectProvenance(argc, argv);
  ExperimentOptions options = defaults;
  CLI::App app{description, name};
  AddExperimentOptions(app, options);
  add_options(app);
  return GuardedMain(app, argc, argv, [&] {
    // Under MPI every rank must have been started alike: checked now and before each sweep.
    RequireAgreement([settings = app.config_to_str(true, false), provenance] { return RunFacts(settings, provenance); });
    if (IsRoot()) {
      CheckResultPath(ResultPath(options, name));  // before the run, not after it
    } else {
      options.quiet = true;  // rank 0 reports for all
    }
    return run(options, provenance);
  });
}

int MnistExperimentMain(
    int argc, char** argv, const std::string& name, const std::string& description,
    const std::function<int(const ExperimentOptions&, const std::string& mnist_dir,
                            const Provenance&)>& run,
    const std::function<void(CLI::App&)>& add_options) {
  std::string mnist_dir = DefaultMnistDir();
  ExperimentOptions defaults;
  defaults.streams = Streams::kAuthors;
  defaults.buffer = BufferKind::kExact;
  return ExperimentMain(
      argc, argv, name, description,
      [&](CLI::App& app) {
        app.add_option("--mnist-dir", mnist_dir, "folder with the four MNIST idx files")
            ->capture_default_str();
        if (add_options) add_options(app);
      },
      [&](const ExperimentOptions& o, const Provenance& p) { return run(o, mnist_dir, p); },
      defaults);
}

void WriteResult(const ExperimentOptions& options, const std::string& name,
                 const Provenance& provenance, const std::function<void(H5Writer&)>& write) {
  if (!IsRoot()) return;  // every rank holds the same results; rank 0 writes them once
  H5Writer writer(ResultPath(options, name));
  write(writer);
  writer.SetAttribute("/", "experiment", name);
  writer.SetAttribute("/", "seed", static_cast<std::int64_t>(options.seed));
  writer.SetAttribute("/", "threads", static_cast<std::int64_t>(options.threads));
  writer.SetAttribute("/", "mpi_ranks", static_cast<std::int64_t>(Ranks()));
  writer.SetAttribute("/", "rng", std::string(StreamsName(options.streams)));
  writer.SetAttribute("/", "rng_detail", StreamsDetail(options.streams));
  writer.SetAttribute("/", "buffer", std::string(BufferKindName(options.buffer)));
  WriteDataFiles(writer);
  WriteProvenance(writer, provenance, options.quick);
  writer.Commit();
  if (!options.quiet) std::cerr << name << ": wrote " << writer.path() << "\n";
}

}  // namespace hypergrad::experiments
