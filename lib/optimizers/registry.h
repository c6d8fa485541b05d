// The exactly reversible optimizers by name, in one table (optimizers/registry.cc): what the
// tools' --optimizer, their flags, ranges and help, buffer_check's moments, the Python module
// (optimizer_hypergradients, optimizers()) and the conformance tests read.
//
// Adding an optimizer touches 6 files (counted by adding heavy-ball momentum, v ← βv − g,
// w ← w + α·v, and running the whole test suite on it): 3 new, lib/optimizers/NAME.h and
// NAME.cc (an ExactOptimizer, its ReversibleTraining run class and an OptimizerInfo function
// made with MakeOptimizerInfo) and tests/optimizers/NAME_test.cc (one ExpectOptimizerConforms
// call on a problem of tests/support/conformance_problems.h); 3 edited by a line each (two in
// registry.cc): registry.cc (its #include and its entry in the table), lib/CMakeLists.txt (the
// source) and tests/CMakeLists.txt (the test). Nothing else: the tools (hypergrad's datasets,
// reversal_check, buffer_check), the Python module, EveryOptimizerTest (truncation, threads,
// the conformance test at the registry's defaults) and the installed-package consumer take it
// from the table.
#ifndef HYPERGRAD_OPTIMIZERS_REGISTRY_H_
#define HYPERGRAD_OPTIMIZERS_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "models/model.h"
#include "optimizers/reversible_training.h"

namespace hypergrad {

// One hyperparameter an optimizer takes besides α: a schedule (one value per step and block,
// "gamma") or a scalar ("eps"). The tools offer it as --<name>, constant over steps and blocks.
struct OptimizerFlag {
  std::string name;
  bool per_step = true;  // a T × B schedule (true) or one scalar
  double default_value = 0.0;
  double min = 0.0, max = 0.0;  // the one range of this hyperparameter (inclusive): the tools'
                                // flags, the Python module and the conformance test take it
  std::string help;
  // Whether the value enters the moments' update u ← r·u + c·φ(g, u) (exact_optimizer.h): every
  // decay (DecayFlag), and a scalar read by φ (RMSprop's ε in g/√(s + ε)); not one read by the
  // position update alone (Adam's ε). buffer_check, which moves the moments only, takes these.
  bool enters_moments = false;

  // "[1e-06, 0.999999]": the range as every message prints it (6 significant digits).
  std::string RangeText() const;
  // Throws std::invalid_argument "<what> = <value> is outside [min, max]" unless min ≤ value ≤
  // max (NaN is outside). `what` names the entry, e.g. "gamma at iteration 3, block 0".
  void Check(double value, const std::string& what) const;
};

// The hyperparameters of one run: every schedule T × B row-major ("alpha" and the optimizer's
// schedules) and every scalar, by name.
struct OptimizerHyperparameters {
  std::size_t iters = 0, blocks = 1;
  std::map<std::string, std::vector<double>> schedules;
  std::map<std::string, double> scalars;
};

struct OptimizerInfo {
  std::string name;     // "sgd"
  std::string summary;  // one line for --help
  std::vector<OptimizerFlag> flags;
  // The learning rate α a tool uses when none is given (reversal_check's --alpha): one that
  // trains its problems without diverging (SGD 0.1; Adam and RMSprop, whose steps are about α
  // per parameter whatever the gradient's scale, 0.01).
  double default_alpha = 0.1;
  // A run of this optimizer. Throws std::invalid_argument for a hyperparameter that is missing
  // or out of range (naming it), as the optimizer's own constructor does.
  std::function<std::unique_ptr<ReversibleTraining>(
      std::shared_ptr<const Model> model, ParameterBlocks blocks, BatchSchedule batches,
      const OptimizerHyperparameters& hyperparameters, TrainingOptions options)>
      make;

  // Every flag's value constant over `iters` steps and `blocks` blocks, α = alpha; `values`
  // gives flags by name (others take their defaults; a name the optimizer does not take is an
  // std::invalid_argument).
  OptimizerHyperparameters Constant(std::size_t iters, std::size_t blocks, double alpha,
                                    const std::map<std::string, double>& values = {}) const;

  // Throws std::invalid_argument naming the first entry of `h` outside its flag's range
  // ("beta1 at iteration 3, block 0 = 1.5 is outside [1e-06, 0.999999]", "eps = 0 is outside
  // [1e-12, 1]"), schedules in the order of `flags`, entries in row-major order; α is not
  // checked (it has no range here). Missing or wrongly sized entries: ScheduleOf's and
  // ScalarOf's errors.
  void CheckRanges(const OptimizerHyperparameters& h) const;

  // Its moments' names in order ("v"; "m", "s"; "s", "m"): the ExactOptimizer's MomentName of a
  // run made for one step of one parameter at the default hyperparameters (never trained).
  std::vector<std::string> MomentNames() const;
};

// The schedule or scalar of that name (std::invalid_argument naming it if absent or, for a
// schedule, not T × B values).
const std::vector<double>& ScheduleOf(const OptimizerHyperparameters& h, const std::string& name);
double ScalarOf(const OptimizerHyperparameters& h, const std::string& name);

// A decay flag (per step) with the one range of a decay, [kMinDecay, kMaxDecay] =
// [1e-6, 0.999999] (rational.h: inside it DecayToRatio gives 1 ≤ n ≤ d = 65536).
OptimizerFlag DecayFlag(std::string name, double default_value, std::string help);

// OptimizerInfo::make for a run class `Run`, constructed from
// Run::Setup{model, blocks, schedule, batches} and the options, whose schedule
// `schedule_of(hyperparameters)` builds.
template <class Run, class ScheduleOf>
auto MakeRunWith(ScheduleOf schedule_of) {
  return [schedule_of](std::shared_ptr<const Model> model, ParameterBlocks blocks,
                       BatchSchedule batches, const OptimizerHyperparameters& h,
                       TrainingOptions options) -> std::unique_ptr<ReversibleTraining> {
    return std::make_unique<Run>(typename Run::Setup{std::move(model), std::move(blocks),
                                                     schedule_of(h), std::move(batches)},
                                 std::move(options));
  };
}

// One flag's value in a run's hyperparameters: the schedule (a per-step flag) or the scalar.
struct FlagValue {
  const OptimizerHyperparameters& h;
  const OptimizerFlag& flag;
  operator std::vector<double>() const;  // ScheduleOf(h, flag.name)
  operator double() const;               // ScalarOf(h, flag.name)
};

// The registry's entry of an optimizer whose run class `Run` has a schedule whose members are,
// in order, iters, blocks, alpha and then one per flag in the order of `flags` (a T × B vector
// for a per-step flag, a double for a scalar): {iters, blocks, alpha, gamma} for SGD,
// {…, beta1, beta2, eps} for Adam.
template <class Run, std::size_t N>
OptimizerInfo MakeOptimizerInfo(std::string name, std::string summary, double default_alpha,
                                 const OptimizerFlag (&flags)[N]) {
  using Schedule = decltype(typename Run::Setup{}.schedule);
  std::vector<OptimizerFlag> list(flags, flags + N);
  auto make = MakeRunWith<Run>([list](const OptimizerHyperparameters& h) {
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return Schedule{h.iters, h.blocks, ScheduleOf(h, "alpha"), FlagValue{h, list[I]}...};
    }(std::make_index_sequence<N>());
  });
  return {std::move(name), std::move(summary), std::move(list), default_alpha, std::move(make)};
}

// Every registered optimizer, in the table's order.
const std::vector<OptimizerInfo>& Optimizers();
// The one of that name; std::invalid_argument listing the names otherwise.
const OptimizerInfo& FindOptimizer(std::string_view name);

}  // namespace hypergrad

#endif  // HYPERGRAD_OPTIMIZERS_REGISTRY_H_
