#include "models/registry.h"

#include <stdexcept>
#include <utility>

#include "models/logistic.h"
#include "models/mlp.h"

namespace hypergrad {

const std::vector<ModelInfo>& Models() {
  static const std::vector<ModelInfo> table = {
      MlpModelInfo(),
      LogisticModelInfo(),
  };
  return table;
}

const ModelInfo& FindModel(std::string_view name) {
  std::string names;
  for (const ModelInfo& info : Models()) {
    if (info.name == name) return info;
    names += (names.empty() ? "" : ", ") + info.name;
  }
  throw std::invalid_argument("unknown model '" + std::string(name) + "' (expected one of " +
                              names + ")");
}

std::map<std::string, std::string> ModelInfo::Flags(
    const std::map<std::string, std::string>& given) const {
  std::string taken;  // the flags this model takes, for the message
  for (const ModelFlag& flag : flags) taken += (taken.empty() ? "--" : ", --") + flag.name;
  for (const auto& [key, value] : given) {
    bool known = false;
    for (const ModelFlag& flag : flags) known = known || flag.name == key;
    if (!known) {
      throw std::invalid_argument("model " + name + " takes no flag --" + key + " (it takes " +
                                  (taken.empty() ? std::string("none") : taken) + ")");
    }
  }
  std::map<std::string, std::string> all;
  for (const ModelFlag& flag : flags) {
    const auto it = given.find(flag.name);
    const std::string& value = it == given.end() ? flag.default_value : it->second;
    const std::string problem = flag.check ? flag.check(value) : std::string();
    if (!problem.empty()) {
      throw std::invalid_argument("model " + name + ": --" + flag.name + " " + value + ": " + problem);
    }
    all[flag.name] = value;
  }
  return all;
}

ToolModel ModelInfo::Make(std::shared_ptr<const Dataset> data,
                          const std::map<std::string, std::string>& given, unsigned threads) const {
  return make(std::move(data), ModelSettings{Flags(given), threads});
}

}  // namespace hypergrad
