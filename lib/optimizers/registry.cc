#include "optimizers/registry.h"

#include <stdexcept>
#include <utility>

#include "arithmetic/rational.h"
#include "optimizers/reversible_adam.h"
#include "optimizers/reversible_rmsprop.h"
#include "optimizers/reversible_sgd.h"

namespace hypergrad {

const std::vector<OptimizerInfo>& Optimizers() {
  static const std::vector<OptimizerInfo> table = {
      SgdOptimizerInfo(),
      AdamOptimizerInfo(),
      RmspropOptimizerInfo(),
  };
  return table;
}

const OptimizerInfo& FindOptimizer(std::string_view name) {
  std::string names;
  for (const OptimizerInfo& info : Optimizers()) {
    if (info.name == name) return info;
    names += (names.empty() ? "" : ", ") + info.name;
  }
  throw std::invalid_argument("unknown optimizer '" + std::string(name) + "' (expected one of " +
                              names + ")");
}

OptimizerHyperparameters OptimizerInfo::Constant(std::size_t iters, std::size_t blocks,
                                                 double alpha,
                                                 const std::map<std::string, double>& values) const {
  for (const auto& [key, value] : values) {
    bool known = false;
    for (const OptimizerFlag& flag : flags) known = known || flag.name == key;
    if (!known) {
      throw std::invalid_argument("optimizer " + name + " takes no hyperparameter '" + key + "'");
    }
  }
  OptimizerHyperparameters h{iters, blocks, {}, {}};
  h.schedules["alpha"].assign(iters * blocks, alpha);
  for (const OptimizerFlag& flag : flags) {
    const auto given = values.find(flag.name);
    const double value = given == values.end() ? flag.default_value : given->second;
    if (flag.per_step) {
      h.schedules[flag.name].assign(iters * blocks, value);
    } else {
      h.scalars[flag.name] = value;
    }
  }
  return h;
}

OptimizerFlag DecayFlag(std::string name, double default_value, std::string help) {
  return {std::move(name), true, default_value, kMinDecay, kMaxDecay, std::move(help)};
}

FlagValue::operator std::vector<double>() const { return ScheduleOf(h, flag.name); }
FlagValue::operator double() const { return ScalarOf(h, flag.name); }

const std::vector<double>& ScheduleOf(const OptimizerHyperparameters& h, const std::string& name) {
  const auto it = h.schedules.find(name);
  if (it == h.schedules.end()) throw std::invalid_argument("no schedule '" + name + "' given");
  if (it->second.size() != h.iters * h.blocks) {
    throw std::invalid_argument("schedule '" + name + "' has " +
                                std::to_string(it->second.size()) + " values, expected " +
                                std::to_string(h.iters) + " steps × " + std::to_string(h.blocks) +
                                " blocks");
  }
  return it->second;
}

double ScalarOf(const OptimizerHyperparameters& h, const std::string& name) {
  const auto it = h.scalars.find(name);
  if (it == h.scalars.end()) throw std::invalid_argument("no value of '" + name + "' given");
  return it->second;
}

}  // namespace hypergrad
