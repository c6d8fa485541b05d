// Multilayer perceptron with the authors' layout and loss (hypergrad/nn_utils.py, make_nn_funs):
// hidden tanh layers, log-softmax output, mean cross-entropy over the batch plus Σ_k λ_k w_k² (no
// ½, biases included). Logistic regression is the [784, 10] case. Hessian-vector products and mixed
// products are exact (Pearlmutter's R-operator through the same forward and backward passes).
#ifndef HYPERGRAD_MODELS_MLP_H_
#define HYPERGRAD_MODELS_MLP_H_

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "models/model.h"
#include "models/registry.h"
#include "models/tanh_kernel.h"

namespace hypergrad {

// Where each layer's parameters sit in the flat vector: per layer i in order, W_i
// (in_i × out_i, row-major: W_i[r, c] at weight_offset + r·out_i + c), then b_i (out_i).
// [784, 50, 50, 50, 10] has 44,860 parameters.
class MlpLayout {
 public:
  struct Layer {
    std::size_t in, out, weight_offset, bias_offset;
  };
  // More parameters than any machine this runs on holds (2^36 doubles = 512 GiB per vector).
  static constexpr std::size_t kMaxParameters = std::size_t{1} << 36;
  // `sizes` = {inputs, hidden..., outputs}, at least two entries, all positive
  // (std::invalid_argument otherwise); std::length_error naming the layer if the parameter
  // count would exceed kMaxParameters (every size product is checked, none wraps).
  explicit MlpLayout(std::vector<std::size_t> sizes);

  const std::vector<std::size_t>& sizes() const { return sizes_; }
  const std::vector<Layer>& layers() const { return layers_; }
  std::size_t num_params() const { return num_params_; }
  // "W1[61,21]" or "b0[3]" for parameter k.
  std::string ParameterName(std::size_t k) const;
  // Blocks W0, b0, W1, b1, ... (the paper's per-layer learning rates, Figs 2–5).
  ParameterBlocks LayerParamBlocks() const;
  // Parses "784,50,50,50,10": digits and single commas only, at least two sizes
  // (std::invalid_argument saying what is wrong otherwise; std::length_error as above).
  static MlpLayout Parse(const std::string& text);

 private:
  std::vector<std::size_t> sizes_;
  std::vector<Layer> layers_;
  std::size_t num_params_ = 0;
};

struct MlpOptions {
  std::vector<std::size_t> layer_sizes;
  // L2 penalty Σ_k λ_k w_k²: empty = none, one value = the same λ for all, num_params values =
  // one per parameter.
  std::vector<double> l2;
  // Hyperparameters θ covered by the mixed product, concatenated in this order:
  // λ (as given: 1 or num_params values; requires a non-empty l2) if `hyper_l2`,
  // then the training inputs (rows × input_dim) if `hyper_inputs`.
  bool hyper_l2 = false;
  bool hyper_inputs = false;
  // Threads for each pass (parallel.h). The work is split in a fixed way that does not depend
  // on this number, so every result is the same bits for any value. ≥ 1.
  unsigned threads = 1;
  // The hidden layers' tanh (tanh_kernel.h): glibc's, or our vectorised polynomial.
  TanhKernel tanh = TanhKernel::kLibm;
};

// Mean negative log-likelihood and error rate of a network on a data set.
struct Evaluation {
  double nll = 0.0;    // mean over rows of −log p(correct class); no L2
  double error = 0.0;  // fraction of rows whose argmax is wrong
};

class Mlp final : public Model {
 public:
  // `data` is the training data; batches index its rows (either form of Dataset: compact
  // inputs are converted per batch, with the same bits). Throws std::invalid_argument if the
  // data's dimensions do not match the first and last layer sizes, l2 has a wrong length, or
  // hyper_inputs is asked of compact data.
  Mlp(MlpOptions options, std::shared_ptr<const Dataset> data);

  std::size_t num_params() const override { return layout_.num_params(); }
  std::size_t num_hyper() const override;
  std::string ParameterName(std::size_t k) const override { return layout_.ParameterName(k); }
  double Gradient(std::span<const double> w, const Batch& batch,
                  std::span<double> grad) const override;
  double GradientAndHvp(std::span<const double> w, const Batch& batch, std::span<const double> u,
                        std::span<double> grad, std::span<double> hvp,
                        std::span<double> mixed) const override;

  // Mean NLL and error on all rows of `data` at w (no L2); if `grad` is non-empty, also
  // ∇_w of the mean NLL. The meta-objectives of the figures. Compact data are converted piece
  // by piece (at most 1,024 rows, or 2^19 values, at a time), never all at once.
  Evaluation Evaluate(std::span<const double> w, const Dataset& data,
                      std::span<double> grad = {}) const;

  const MlpLayout& layout() const { return layout_; }
  const Dataset& data() const { return *data_; }
  const std::vector<double>& l2() const { return options_.l2; }
  TanhKernel tanh_kernel() const { return options_.tanh; }

 private:
  MlpOptions options_;
  MlpLayout layout_;
  std::shared_ptr<const Dataset> data_;
};

// The registry's entry (models/registry.h): "mlp", --layers (default 784,50,50,50,10, whose first
// and last sizes must be the data's inputs and classes) and --tanh (libm or polynomial); its
// blocks are LayerParamBlocks, its objective Evaluate(w, data).nll.
ModelInfo MlpModelInfo();

}  // namespace hypergrad

#endif  // HYPERGRAD_MODELS_MLP_H_
