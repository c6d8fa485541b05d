// A training loss L(w, θ; batch) on a flat parameter vector w: what the reversible optimizer
// trains and the reverse pass differentiates through g = ∇_w L, ∇²_w L·u and ∇_θ⟨∇_w L, u⟩.
#ifndef HYPERGRAD_MODELS_MODEL_H_
#define HYPERGRAD_MODELS_MODEL_H_

#include <cstddef>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace hypergrad {

// The rows of the model's training data used by one iteration.
struct Batch {
  std::vector<std::size_t> rows;
};

// Every method is deterministic: identical inputs give bit-identical outputs, on every call.
// Exact reversal depends on it (the reverse pass recomputes each gradient and must get the
// forward pass's bits), so implementations must not use nondeterministic reductions.
// Methods are const and thread-compatible: concurrent calls on one model are safe.
class Model {
 public:
  virtual ~Model() = default;

  // Length of w.
  virtual std::size_t num_params() const = 0;
  // Length of θ, the hyperparameters inside the loss whose mixed products MixedProduct-style
  // output provides (0 if none).
  virtual std::size_t num_hyper() const { return 0; }
  // Human-readable name of parameter k, e.g. "W1[61,21]", for error messages.
  virtual std::string ParameterName(std::size_t k) const { return "w[" + std::to_string(k) + "]"; }

  // Returns L(w, θ; batch) and writes ∇_w L into `grad` (size num_params()).
  virtual double Gradient(std::span<const double> w, const Batch& batch,
                          std::span<double> grad) const = 0;

  // Returns L and writes exactly the bits Gradient would into `grad`, plus the exact
  // (automatic-differentiation, not finite-difference) Hessian-vector product
  // hvp = ∇²_w L · u and, when `mixed` is non-empty (size num_hyper()), the mixed product
  // mixed = ∇_θ ⟨∇_w L(w, θ), u⟩.
  virtual double GradientAndHvp(std::span<const double> w, const Batch& batch,
                                std::span<const double> u, std::span<double> grad,
                                std::span<double> hvp, std::span<double> mixed) const = 0;
};

// A model of P parameters that is never trained: for an optimizer's run made only for its
// coefficients, moments or buffer (buffer_check, OptimizerInfo::MomentNames). Gradient and
// GradientAndHvp throw std::logic_error("<who>: the model is never trained").
class UntrainedModel final : public Model {
 public:
  UntrainedModel(std::size_t params, std::string who) : params_(params), who_(std::move(who)) {}
  std::size_t num_params() const override { return params_; }
  double Gradient(std::span<const double>, const Batch&, std::span<double>) const override;
  double GradientAndHvp(std::span<const double>, const Batch&, std::span<const double>,
                        std::span<double>, std::span<double>, std::span<double>) const override;

 private:
  std::size_t params_;
  std::string who_;
};

// A partition of the parameters into blocks that share a learning rate and a momentum
// (e.g. the weights and the biases of each layer).
struct ParameterBlocks {
  std::vector<std::uint32_t> block_of;  // block index of each parameter
  std::vector<std::string> names;       // one name per block

  std::size_t num_blocks() const { return names.size(); }
  std::size_t num_params() const { return block_of.size(); }

  // All parameters in one block named "all".
  static ParameterBlocks Single(std::size_t num_params);
  // One block per parameter, named "w[k]".
  static ParameterBlocks PerParameter(std::size_t num_params);
  // Throws std::invalid_argument unless every block index is < num_blocks() and every block
  // has at least one parameter.
  void Validate() const;
  // Expands one value per block into one value per parameter.
  void Expand(std::span<const double> per_block, std::span<double> per_param) const;
  // Sums per-parameter values (e.g. products) into one value per block, adding to `per_block`.
  void AccumulateSum(std::span<const double> per_param, std::span<double> per_block) const;
};

}  // namespace hypergrad

#endif  // HYPERGRAD_MODELS_MODEL_H_
