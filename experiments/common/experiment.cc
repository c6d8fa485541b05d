#include "common/experiment.h"

#include <iostream>

#include "common/guarded_main.h"
#include "common/mnist_source.h"

namespace hypergrad::experiments {

void AddExperimentOptions(CLI::App& app, ExperimentOptions& options) {
  app.add_flag("--quick", options.quick,
               "small grids and few meta-iterations (smoke tests, make reproduce QUICK=1)");
  app.add_option("--out", options.out,
                 "result file (default results/<name>.h5, or results/quick/<name>.h5 with --quick)");
  app.add_option("--seed", options.seed, "random seed")->capture_default_str();
  app.add_option("--threads", options.threads, "independent runs computed in parallel")
      ->check(CLI::Range(1u, 64u))
      ->capture_default_str();
  app.add_flag("--quiet", options.quiet, "no progress lines on stderr");
}

std::string ResultPath(const ExperimentOptions& options, const std::string& name) {
  if (!options.out.empty()) return options.out;
  return std::string(options.quick ? "results/quick/" : "results/") + name + ".h5";
}

int ExperimentMain(int argc, char** argv, const std::string& name, const std::string& description,
                   const std::function<void(CLI::App&)>& add_options,
                   const std::function<int(const ExperimentOptions&, const Provenance&)>& run) {
  const Provenance provenance = CollectProvenance(argc, argv);
  ExperimentOptions options;
  CLI::App app{description, name};
  AddExperimentOptions(app, options);
  add_options(app);
  return GuardedMain(app, argc, argv, [&] { return run(options, provenance); });
}

int MnistExperimentMain(
    int argc, char** argv, const std::string& name, const std::string& description,
    const std::function<int(const ExperimentOptions&, const std::string& mnist_dir,
                            const Provenance&)>& run,
    const std::function<void(CLI::App&)>& add_options) {
  std::string mnist_dir = DefaultMnistDir();
  return ExperimentMain(
      argc, argv, name, description,
      [&](CLI::App& app) {
        app.add_option("--mnist-dir", mnist_dir, "folder with the four MNIST idx files")
            ->capture_default_str();
        if (add_options) add_options(app);
      },
      [&](const ExperimentOptions& o, const Provenance& p) { return run(o, mnist_dir, p); });
}

void WriteResult(const ExperimentOptions& options, const std::string& name,
                 const Provenance& provenance, const std::function<void(H5Writer&)>& write) {
  H5Writer writer(ResultPath(options, name));
  write(writer);
  writer.SetAttribute("/", "experiment", name);
  writer.SetAttribute("/", "seed", static_cast<std::int64_t>(options.seed));
  writer.SetAttribute("/", "threads", static_cast<std::int64_t>(options.threads));
  WriteProvenance(writer, provenance, options.quick);
  writer.Commit();
  if (!options.quiet) std::cerr << name << ": wrote " << writer.path() << "\n";
}

}  // namespace hypergrad::experiments
