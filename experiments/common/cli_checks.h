// Strict command-line checks shared by every program: each message names the flag and the
// value given, and what would be accepted. (CLI11's own range checks print ranges such as
// "0.000000 to 1797693…" and convert "-1" to 2^64 − 1 for unsigned options.)
#ifndef HYPERGRAD_EXPERIMENTS_COMMON_CLI_CHECKS_H_
#define HYPERGRAD_EXPERIMENTS_COMMON_CLI_CHECKS_H_

#include <CLI/CLI.hpp>
#include <cstdint>
#include <map>
#include <string>

namespace hypergrad::experiments {

// The largest seed: numpy's RandomState takes seeds below 2^32, and so do all our programs.
inline constexpr std::uint64_t kMaxSeed = 4294967295u;

// A whole number in [low, high], digits only (no sign, no exponent, no spaces).
CLI::Validator WholeNumber(std::uint64_t low, std::uint64_t high);
// A finite real number x with low < x < high (open) or low ≤ x ≤ high (closed).
CLI::Validator RealNumber(double low, double high, bool open = false);

// Adds --seed (a whole number in [0, 2^32 − 1]) bound to `seed`.
CLI::Option* AddSeedOption(CLI::App& app, std::uint64_t& seed, const std::string& help);

// Adds --threads (a whole number in [1, 256], default as `threads` holds) bound to `threads`:
// the threads of each pass of one run (the figure targets' --threads, by contrast, counts
// independent runs side by side; each help says which). The work is split in a fixed way, so the results are the
// same bits for any value.
CLI::Option* AddPassThreadsOption(CLI::App& app, unsigned& threads);

// Adds --buffer exact|fast (info_buffer.h's kinds; default as `buffer` holds) bound to `buffer`.
CLI::Option* AddBufferOption(CLI::App& app, std::string& buffer);

// Adds --json (one JSON object on stdout) and --quiet (no progress lines on stderr).
void AddJsonAndQuietFlags(CLI::App& app, bool& json, bool& quiet);

// Adds --gemm openblas|portable (gemm.h's kernels; default as `name` holds, "portable" in every
// tool: the committed results come from it) bound to `name`, and --gemm-variant
// auto|scalar|sse2|avx2|avx512 (the portable kernel's instruction set, gemm_portable.h; default
// auto, the widest this CPU runs; every variant gives the same bits, which forcing one lets a
// user or test check) bound to `variant`. Given, each sets the process's kernel
// (SetGemmKernel, ForcePortableGemmVariant) while the command line is parsed, before any product;
// a variant this CPU lacks is a command-line error. The result files record both
// (gemm_kernel, gemm_kernel_detail; provenance.h).
CLI::Option* AddGemmOption(CLI::App& app, std::string& name, std::string& variant);

// The training optimizer and its hyperparameters, as the tools take them.
struct OptimizerFlags {
  std::string optimizer = "sgd";
  // Defaults the tool sets instead of the registry's (optimizers/registry.h), by flag name (e.g.
  // {{"gamma", 0.5}}); for the flags the chosen optimizer does not take they are ignored.
  std::map<std::string, double> values;
  // The flags given on the command line, by name (AddOptimizerOptions fills it).
  std::map<std::string, double> given;
  // The chosen optimizer's flags and their values: given, else the tool's default, else the
  // chosen optimizer's registry default.
  std::map<std::string, double> Chosen() const;
};
// Adds --optimizer NAME and every registered optimizer's flags (--gamma, --beta1, --rho, --eps,
// ...: their help from the registry; a flag several optimizers take once) bound to `flags`.
// While parsing, a flag's value must be a number in the union of the ranges of the optimizers
// that take it; once parsing is done (one final callback) a flag the chosen optimizer does not
// take is a command-line error (RefuseOtherOptimizersFlags), and so is a value outside the
// chosen optimizer's own range ("--eps: expected a number in [1e-12, 1] for --optimizer adam,
// got '1e-13'").
void AddOptimizerOptions(CLI::App& app, OptimizerFlags& flags);

// Throws CLI::ValidationError naming the flag if `app` was given a flag that the chosen
// `optimizer` does not take (the registry's flags of other optimizers), instead of ignoring it.
void RefuseOtherOptimizersFlags(const CLI::App& app, const std::string& optimizer);

// The training model and its flags, as the tools take them.
struct ModelFlags {
  std::string model = "mlp";
  // The flags given on the command line, by name (a registered model's flag, models/registry.h).
  std::map<std::string, std::string> given;
  // Defaults the tool sets instead of the registry's (e.g. a smaller --layers for generated
  // data); those the chosen model does not take are ignored.
  std::map<std::string, std::string> tool_defaults;
  // The chosen model's flags and their values: given, else the tool's default, else the
  // registry's.
  std::map<std::string, std::string> Chosen() const;
};
// Adds --model NAME (choices and help from the registry) and every registered model's flags
// (--layers, --tanh, --l2, ...: checks and help from the registry; a flag several models take
// once) bound to `flags`. A flag the chosen model does not take is a command-line error naming
// the flag and the models that take it (run once parsing is done). `default_note` (by flag name)
// is appended to a flag's help, e.g. the tool's own default.
void AddModelOptions(CLI::App& app, ModelFlags& flags,
                     const std::map<std::string, std::string>& default_note = {});

// Throws std::invalid_argument naming `what` if `bytes` exceed the machine's physical memory:
// a clear message before the run rather than std::bad_alloc in the middle of it.
void CheckFitsInMemory(double bytes, const std::string& what);

}  // namespace hypergrad::experiments

#endif  // HYPERGRAD_EXPERIMENTS_COMMON_CLI_CHECKS_H_
