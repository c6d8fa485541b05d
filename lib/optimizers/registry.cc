#include "optimizers/registry.h"

#include <sstream>
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

std::vector<std::string> OptimizerInfo::MomentNames() const {
  const auto run = make(std::make_shared<const UntrainedModel>(1, "OptimizerInfo::MomentNames"),
                        ParameterBlocks::Single(1), [](std::size_t) { return Batch{}; },
                        Constant(1, 1, default_alpha), {});
  std::vector<std::string> names;
  for (std::size_t i = 0; i < run->optimizer().num_moments(); ++i) {
    names.push_back(run->optimizer().MomentName(i));
  }
  return names;
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

void OptimizerInfo::CheckRanges(const OptimizerHyperparameters& h) const {
  for (const OptimizerFlag& flag : flags) {
    if (!flag.per_step) {
      flag.Check(ScalarOf(h, flag.name), flag.name);
      continue;
    }
    const std::vector<double>& values = ScheduleOf(h, flag.name);
    for (std::size_t i = 0; i < values.size(); ++i) {
      flag.Check(values[i], flag.name + " at iteration " + std::to_string(i / h.blocks) +
                                ", block " + std::to_string(i % h.blocks));
    }
  }
}

std::string OptimizerFlag::RangeText() const {
  std::ostringstream out;
  out << "[" << min << ", " << max << "]";  // 6 significant digits, as the tools' --help
  return out.str();
}

void OptimizerFlag::Check(double value, const std::string& what) const {
  if (value >= min && value <= max) return;
  std::ostringstream out;
  out.precision(17);
  out << what << " = " << value << " is outside " << RangeText();
  throw std::invalid_argument(out.str());
}

OptimizerFlag DecayFlag(std::string name, double default_value, std::string help) {
  return {std::move(name), true, default_value, kMinDecay, kMaxDecay, std::move(help), true};
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
