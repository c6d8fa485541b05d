// What every figure target shares: its main() (provenance, the common command-line options
// --quick, --out, --seed, --threads, --quiet, clear errors), where results go, and writing the
// result file with its provenance. Parallel loops come from the library (parallel.h).
#ifndef HYPERGRAD_EXPERIMENTS_COMMON_EXPERIMENT_H_
#define HYPERGRAD_EXPERIMENTS_COMMON_EXPERIMENT_H_

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <string>

#include "parallel.h"
#include "results/h5_writer.h"
#include "results/provenance.h"

namespace hypergrad::experiments {

struct ExperimentOptions {
  bool quick = false;        // small grids and few meta-iterations, for smoke tests and QUICK=1
  std::string out;           // result file; default results/[quick/]<name>.h5
  std::uint64_t seed = 0;
  unsigned threads = 2;      // independent runs in parallel (the machine has 2 cores)
  bool quiet = false;        // no progress on stderr
};

// Adds the common options to `app`.
void AddExperimentOptions(CLI::App& app, ExperimentOptions& options);

// --out if given, else results/<name>.h5 (results/quick/<name>.h5 with --quick).
std::string ResultPath(const ExperimentOptions& options, const std::string& name);

// The whole main() of a figure target: collects the provenance, parses the common options plus
// those `add_options` adds, and runs `run`, turning errors into a message and a non-zero exit.
int ExperimentMain(int argc, char** argv, const std::string& name, const std::string& description,
                   const std::function<void(CLI::App&)>& add_options,
                   const std::function<int(const ExperimentOptions&, const Provenance&)>& run);

// ExperimentMain for a target trained on MNIST: adds --mnist-dir DIR (default: the folder the
// build fetched) before the options `add_options` adds (if any), and passes DIR to `run`.
int MnistExperimentMain(
    int argc, char** argv, const std::string& name, const std::string& description,
    const std::function<int(const ExperimentOptions&, const std::string& mnist_dir,
                            const Provenance&)>& run,
    const std::function<void(CLI::App&)>& add_options = {});

// Opens the result file (atomically: see H5Writer), lets `write` fill it, adds provenance and
// the common options, and commits it. Prints the path unless quiet.
void WriteResult(const ExperimentOptions& options, const std::string& name,
                 const Provenance& provenance, const std::function<void(H5Writer&)>& write);

}  // namespace hypergrad::experiments

#endif  // HYPERGRAD_EXPERIMENTS_COMMON_EXPERIMENT_H_
