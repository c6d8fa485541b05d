// Multinomial logistic (softmax) regression: class probabilities p = softmax(x·W + b), the loss
// the mean cross-entropy over the batch plus a per-class L2 penalty on the weights,
// Σ_c λ_c Σ_d W[d,c]² (no ½; biases unpenalised). The Hessian-vector and mixed products are
// exact (the R-operator of the softmax, written out). Single-threaded: its results are the same
// bits for any thread count.
#ifndef HYPERGRAD_MODELS_LOGISTIC_H_
#define HYPERGRAD_MODELS_LOGISTIC_H_

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "models/model.h"
#include "models/registry.h"

namespace hypergrad {

struct LogisticOptions {
  // λ: empty = no penalty, one value = the same λ for every class, or one per class.
  std::vector<double> l2;
  // θ of the mixed product is λ as given (1 or `classes` values; needs a non-empty l2).
  bool hyper_l2 = false;
};

// Parameters: W (inputs × classes, row-major: W[d,c] at d·classes + c), then b (classes).
class Logistic final : public Model {
 public:
  // `data` is the training data (either form of Dataset); batches index its rows. Throws
  // std::invalid_argument for missing or invalid data, an l2 of another length than 0, 1 or
  // classes, a λ that is negative or not finite, or hyper_l2 without l2.
  Logistic(LogisticOptions options, std::shared_ptr<const Dataset> data);

  std::size_t num_params() const override { return (inputs_ + 1) * classes_; }
  std::size_t num_hyper() const override { return options_.hyper_l2 ? options_.l2.size() : 0; }
  // "W[d,c]" or "b[c]".
  std::string ParameterName(std::size_t k) const override;
  // Throw std::invalid_argument for spans of the wrong size, an empty batch or a row index
  // beyond the data.
  double Gradient(std::span<const double> w, const Batch& batch,
                  std::span<double> grad) const override;
  double GradientAndHvp(std::span<const double> w, const Batch& batch, std::span<const double> u,
                        std::span<double> grad, std::span<double> hvp,
                        std::span<double> mixed) const override;

  // Mean negative log-likelihood over all rows of `data` at w (no penalty); if `grad` is
  // non-empty, also its gradient. `data` must have the training data's inputs and classes.
  double Evaluate(std::span<const double> w, const Dataset& data,
                  std::span<double> grad = {}) const;

  // Blocks "W" and "b".
  ParameterBlocks Blocks() const;
  const Dataset& data() const { return *data_; }

 private:
  // The loss over `count` rows of `data` (rows[i], or i when rows is null), its gradient into
  // `grad` and, when u is non-empty, the Hessian-vector product into `hvp` and the mixed
  // product into `mixed` (when non-empty); the penalty only if `penalty`. Outputs are
  // overwritten.
  double Pass(std::span<const double> w, const Dataset& data, const std::size_t* rows,
              std::size_t count, bool penalty, std::span<const double> u, std::span<double> grad,
              std::span<double> hvp, std::span<double> mixed) const;

  LogisticOptions options_;
  std::shared_ptr<const Dataset> data_;
  std::size_t inputs_ = 0, classes_ = 0;
};

// The registry's entry (models/registry.h): "logistic", --l2 (one λ for every class, default 0);
// fits data of any shape; blocks W and b; objective Evaluate(w, data).
ModelInfo LogisticModelInfo();

}  // namespace hypergrad

#endif  // HYPERGRAD_MODELS_LOGISTIC_H_
