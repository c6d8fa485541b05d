// The training models by name, in one table (models/registry.cc): what the tools' --model, its
// flags and help read. A model entry makes, from the tool's training data and the model's flags,
// everything a tool needs of it: the Model the optimizer trains, the objective (mean NLL on all
// training rows), the model's own parameter blocks and each block's fan-in.
// Adding a model: its own file (a Model with a ModelInfo function) and one line in the table.
#ifndef HYPERGRAD_MODELS_REGISTRY_H_
#define HYPERGRAD_MODELS_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "data/dataset.h"
#include "models/model.h"

namespace hypergrad {

// One flag a model takes; the tools offer it as --<name> with its value as text, and record it
// under <name> (HDF5 attribute, JSON field). The name must be none of the tools' own options
// (CLI11 refuses a second --<name> when the tool starts); models may share a flag.
struct ModelFlag {
  std::string name;           // "layers" → --layers
  std::string default_value;  // as the command line would give it
  std::string help;
  // "" if `value` is acceptable, otherwise why not (the tools print it after the flag's name).
  std::function<std::string(const std::string& value)> check;
};

// Inputs per row and classes of a classification data set.
struct DataShape {
  std::size_t inputs = 0, classes = 0;
};

// What a tool gives the factory besides the data: the chosen model's flags by name (every flag
// of the model, given or default) and the threads of each pass (≥ 1; every model's results are
// the same bits for any number).
struct ModelSettings {
  std::map<std::string, std::string> flags;
  unsigned threads = 1;
};

// A model as the tools use it.
struct ToolModel {
  std::shared_ptr<const Model> model;
  // Mean negative log-likelihood over all rows of the training data at w (no penalty); writes its
  // gradient into d_w when d_w is non-empty (size model->num_params()).
  std::function<double(std::span<const double> w, std::span<double> d_w)> objective;
  // What `objective` computes, in words, as the tools' meta-objective at the final weights w_T
  // (hypergrad's attribute "objective"), e.g. "mean cross-entropy (negative log-likelihood) of
  // the MLP's softmax outputs over all 10000 training rows at w_T, no L2 penalty".
  std::string objective_text;
  // The model's own partition of its parameters (the MLP's W0, b0, W1, b1, ...), made on request
  // (it holds 4 bytes per parameter: a tool checks the memory a run needs first), and the fan-in
  // of each of its blocks (the inputs of the unit a parameter feeds), for N(0, 1)/√fan-in draws.
  std::function<ParameterBlocks()> blocks;
  std::vector<std::size_t> fan_in;
  // The same model with the training penalty Σ_k λ_k w_k² (λ: one value per parameter) and
  // θ = λ as the hyperparameters of its mixed product (model.h), for hypergradients in λ; empty
  // for a model without a per-parameter penalty (the tools refuse --log-l2 for it).
  std::function<std::shared_ptr<const Model>(std::span<const double> lambda)> with_l2;
  // Its shape in a few words for messages and logs, e.g. "[784,50,50,50,10]".
  std::string description;
};

struct ModelInfo {
  std::string name;     // "mlp"
  std::string summary;  // one line for --help
  std::vector<ModelFlag> flags;
  // The data shape the flags fix (the MLP's first and last layer sizes), or none when the model
  // fits any shape. Tools that generate data use it; `flags` as in ModelSettings.
  std::function<std::optional<DataShape>(const std::map<std::string, std::string>& flags)> shape;
  // The model for `data`. Throws std::invalid_argument naming the flag when a flag's value does
  // not fit the data (e.g. "--layers 20,5 must start with 784 ...").
  std::function<ToolModel(std::shared_ptr<const Dataset> data, const ModelSettings& settings)> make;

  // Every flag of this model: `given` by name where present, else its default. A name the model
  // does not take is an std::invalid_argument naming the flag and the model; so is a value its
  // check refuses.
  std::map<std::string, std::string> Flags(const std::map<std::string, std::string>& given) const;
  // make(data, {Flags(given), threads}).
  ToolModel Make(std::shared_ptr<const Dataset> data,
                 const std::map<std::string, std::string>& given, unsigned threads = 1) const;
};

// Every registered model, in the table's order.
const std::vector<ModelInfo>& Models();
// The one of that name; std::invalid_argument listing the names otherwise.
const ModelInfo& FindModel(std::string_view name);

}  // namespace hypergrad

#endif  // HYPERGRAD_MODELS_REGISTRY_H_
