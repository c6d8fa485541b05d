// What every figure target shares: its main() (provenance, the common command-line options
// --quick, --out, --seed, --threads, --quiet, clear errors), where results go, and writing the
// result file with its provenance. Parallel loops come from the library (parallel.h).
#ifndef HYPERGRAD_EXPERIMENTS_COMMON_EXPERIMENT_H_
#define HYPERGRAD_EXPERIMENTS_COMMON_EXPERIMENT_H_

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "buffers/info_buffer.h"
#include "runtime/parallel.h"
#include "results/h5_writer.h"
#include "results/provenance.h"

namespace hypergrad::experiments {

// Whose random draws a target makes: the authors' (numpy's RandomState seeded as their
// hypergrad/util.py does, numpy_random.h) or this suite's (random.h).
enum class Streams {
  kNone,     // the target draws no random numbers (Fig 1)
  kAuthors,  // numpy's legacy RandomState, seeded and drawn in the order of the authors' code
  kNative,   // this suite's counter-based streams (random.h), named by (seed, path)
};

struct ExperimentOptions {
  bool quick = false;        // small grids and few meta-iterations, for smoke tests and QUICK=1
  std::string out;           // result file; default results/[quick/]<name>.h5
  std::uint64_t seed = 0;
  unsigned threads = 2;      // independent pieces of work side by side (the machine has 2 cores)
  bool quiet = false;        // no progress on stderr
  Streams streams = Streams::kNone;
  // The exact buffer pops the digits the authors' Python integers pop, so the forward
  // trajectory is theirs bit for bit; the fast one pops other (equally exact) digits.
  BufferKind buffer = BufferKind::kExact;
  std::string gemm = "portable";  // --gemm (cli_checks.h): set as the command line is parsed
  std::string gemm_variant = "auto";  // --gemm-variant (cli_checks.h), likewise
};

// "authors" / "native" / "none".
std::string_view StreamsName(Streams streams);

// Initial weights N(0, 1)·e^{log_scale} from `seed`, drawn as the authors' Fig 6, 7 and 10
// scripts do (kAuthors): npr.seed(seed); v_0 = randn(n)·0 (drawn and discarded); w_0 =
// randn(n)·e^{log_scale}. kNative: the stream (seed, {0}). Throws std::invalid_argument for a
// numpy seed ≥ 2^32.
std::vector<double> SeededInitialWeights(std::size_t n, double log_scale, std::uint64_t seed,
                                         Streams streams);

// Adds the common options to `app`; --rng only if the target draws random numbers
// (options.streams != kNone on entry).
void AddExperimentOptions(CLI::App& app, ExperimentOptions& options);

// --out if given, else results/<name>.h5 (results/quick/<name>.h5 with --quick).
std::string ResultPath(const ExperimentOptions& options, const std::string& name);

// The whole main() of a figure target: collects the provenance, parses the common options
// (starting from `defaults`) plus those `add_options` adds, and runs `run`, turning errors into
// a message and a non-zero exit.
int ExperimentMain(int argc, char** argv, const std::string& name, const std::string& description,
                   const std::function<void(CLI::App&)>& add_options,
                   const std::function<int(const ExperimentOptions&, const Provenance&)>& run,
                   const ExperimentOptions& defaults = {});

// ExperimentMain for a target trained on MNIST: the authors' draws and the exact buffer by
// default; adds --mnist-dir DIR (default: the folder the build fetched) before the options
// `add_options` adds (if any), and passes DIR to `run`.
int MnistExperimentMain(
    int argc, char** argv, const std::string& name, const std::string& description,
    const std::function<int(const ExperimentOptions&, const std::string& mnist_dir,
                            const Provenance&)>& run,
    const std::function<void(CLI::App&)>& add_options = {});

// Opens the result file (atomically: see H5Writer), lets `write` fill it, adds provenance and
// the common options (seed, threads, rng, buffer), and commits it. Prints the path unless quiet.
void WriteResult(const ExperimentOptions& options, const std::string& name,
                 const Provenance& provenance, const std::function<void(H5Writer&)>& write);

}  // namespace hypergrad::experiments

#endif  // HYPERGRAD_EXPERIMENTS_COMMON_EXPERIMENT_H_
