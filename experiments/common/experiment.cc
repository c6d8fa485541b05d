#include "common/experiment.h"

#include <iostream>

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
