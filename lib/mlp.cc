#include "mlp.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <xtensor-blas/xblas.hpp>
#include <xtensor/xadapt.hpp>
#include <xtensor/xtensor.hpp>

#include "gemm_trace.h"

namespace hypergrad {
namespace {

using Matrix = xt::xtensor<double, 2>;

// A row-major matrix view of memory we do not own (no copy).
auto View(const double* data, std::size_t rows, std::size_t cols) {
  return xt::adapt(const_cast<double*>(data), rows * cols, xt::no_ownership(),
                   std::array<std::size_t, 2>{rows, cols});
}
using MatrixView = decltype(View(nullptr, 0, 0));

// C = op(A)·op(B) + beta·C through OpenBLAS (C must have the product's shape). Benchmarks may
// record the shapes (gemm_trace.h).
template <class A, class B, class C>
void Gemm(const A& a, bool transpose_a, const B& b, bool transpose_b, C& c, double beta = 0.0) {
  GemmTrace::Record({c.shape()[0], c.shape()[1], transpose_a ? a.shape()[0] : a.shape()[1], transpose_a,
                     transpose_b, beta != 0.0});
  xt::blas::gemm(a, b, c, transpose_a, transpose_b, 1.0, beta);
}

void AddBias(Matrix& h, const double* bias) {
  const std::size_t rows = h.shape()[0], cols = h.shape()[1];
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < cols; ++c) h(r, c) += bias[c];
  }
}

void SumRows(const Matrix& m, double* out) {
  const std::size_t rows = m.shape()[0], cols = m.shape()[1];
  std::fill(out, out + cols, 0.0);
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < cols; ++c) out[c] += m(r, c);
  }
}

// One forward/backward pass on a batch (x: rows × in, t: rows × classes), and when `u` is
// given, the R-operator passes for H·u and R{∇_x L}. Loss = mean over rows of −Σ_c t·log p
// (no L2). Outputs are optional (empty span / null pointer = not wanted), but which ones are
// requested never changes how the gradient is computed, so its bits are always the same.
struct Pass {
  const double* x = nullptr;
  const double* t = nullptr;
  std::size_t rows = 0;
  std::span<const double> w, u;
  std::span<double> grad, hvp;
  double* input_r_grad = nullptr;  // rows × in: R{∇_x L} = ∇_x ⟨∇_w L, u⟩
  std::size_t* errors = nullptr;   // count of rows whose argmax is wrong
};

double Run(const MlpLayout& layout, const Pass& pass) {
  const auto& layers = layout.layers();
  const std::size_t depth = layers.size(), rows = pass.rows;
  const std::size_t classes = layers.back().out;
  const double* w = pass.w.data();
  const MatrixView x = View(pass.x, rows, layers[0].in);
  auto weights = [&](std::size_t i) { return View(w + layers[i].weight_offset, layers[i].in, layers[i].out); };

  // Forward: a[i] is the input of layer i (a[0] unused: x), a[depth] the logits.
  std::vector<Matrix> a(depth + 1);
  for (std::size_t i = 0; i < depth; ++i) {
    Matrix h({rows, layers[i].out});
    if (i == 0) Gemm(x, false, weights(0), false, h); else Gemm(a[i], false, weights(i), false, h);
    AddBias(h, w + layers[i].bias_offset);
    if (i + 1 < depth) {
      for (double& v : h) v = std::tanh(v);
    }
    a[i + 1] = std::move(h);
  }

  // Log-softmax with the global maximum subtracted for stability (as the authors' code).
  const Matrix& z = a[depth];
  const double zmax = *std::max_element(z.begin(), z.end());
  Matrix p({rows, classes});
  std::vector<double> target_mass(rows, 0.0);
  double nll = 0.0;
  for (std::size_t r = 0; r < rows; ++r) {
    double sum = 0.0;
    for (std::size_t c = 0; c < classes; ++c) sum += std::exp(z(r, c) - zmax);
    const double log_sum = std::log(sum);
    std::size_t predicted = 0, truth = 0;
    for (std::size_t c = 0; c < classes; ++c) {
      const double log_p = z(r, c) - zmax - log_sum;
      const double target = pass.t[r * classes + c];
      nll -= target * log_p;
      target_mass[r] += target;
      p(r, c) = std::exp(log_p);
      if (z(r, c) > z(r, predicted)) predicted = c;
      if (target > pass.t[r * classes + truth]) truth = c;
    }
    if (pass.errors != nullptr && predicted != truth) ++*pass.errors;
  }
  const double inv_rows = 1.0 / static_cast<double>(rows);
  nll *= inv_rows;
  if (pass.grad.empty()) return nll;

  // Backward: delta[i] = ∂L/∂(pre-activation output of layer i); back[i] = delta[i]·W_iᵀ.
  std::vector<Matrix> delta(depth), back(depth);
  delta[depth - 1] = Matrix({rows, classes});
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < classes; ++c) {
      delta[depth - 1](r, c) = (p(r, c) * target_mass[r] - pass.t[r * classes + c]) * inv_rows;
    }
  }
  double* grad = pass.grad.data();
  // Without R-passes, each layer's activations and deltas are let go once used: a full-data
  // evaluation (10,000 rows) then holds two layers' temporaries instead of all of them.
  const bool keep = !pass.u.empty();
  for (std::size_t i = depth; i-- > 0;) {
    auto grad_w = View(grad + layers[i].weight_offset, layers[i].in, layers[i].out);
    if (i == 0) Gemm(x, true, delta[0], false, grad_w); else Gemm(a[i], true, delta[i], false, grad_w);
    SumRows(delta[i], grad + layers[i].bias_offset);
    if (i > 0) {
      back[i] = Matrix({rows, layers[i].in});
      Gemm(delta[i], false, weights(i), true, back[i]);
      delta[i - 1] = Matrix({rows, layers[i].in});
      for (std::size_t k = 0; k < back[i].size(); ++k) {
        const double act = a[i].data()[k];
        delta[i - 1].data()[k] = back[i].data()[k] * (1.0 - act * act);
      }
      if (!keep) back[i] = a[i] = Matrix();
    }
    if (!keep) delta[i] = Matrix();
  }
  if (pass.u.empty()) return nll;

  // R-forward: ra[i] = R{a[i]} for the direction u on the parameters (R{x} = 0).
  const double* u = pass.u.data();
  auto direction = [&](std::size_t i) { return View(u + layers[i].weight_offset, layers[i].in, layers[i].out); };
  std::vector<Matrix> ra(depth + 1);
  for (std::size_t i = 0; i < depth; ++i) {
    Matrix rh({rows, layers[i].out});
    if (i == 0) {
      Gemm(x, false, direction(0), false, rh);
    } else {
      Gemm(ra[i], false, weights(i), false, rh);
      Gemm(a[i], false, direction(i), false, rh, 1.0);
    }
    AddBias(rh, u + layers[i].bias_offset);
    if (i + 1 < depth) {
      for (std::size_t k = 0; k < rh.size(); ++k) {
        const double act = a[i + 1].data()[k];
        rh.data()[k] *= 1.0 - act * act;
      }
    }
    ra[i + 1] = std::move(rh);
  }
  // R{log p} = R{z} − Σ_c p·R{z} per row; R{delta} = R{p}·(target mass)/rows.
  Matrix rdelta({rows, classes});
  for (std::size_t r = 0; r < rows; ++r) {
    double mean = 0.0;
    for (std::size_t c = 0; c < classes; ++c) mean += p(r, c) * ra[depth](r, c);
    for (std::size_t c = 0; c < classes; ++c) {
      rdelta(r, c) = p(r, c) * (ra[depth](r, c) - mean) * target_mass[r] * inv_rows;
    }
  }
  // R-backward.
  double* hvp = pass.hvp.data();
  for (std::size_t i = depth; i-- > 0;) {
    auto hvp_w = View(hvp + layers[i].weight_offset, layers[i].in, layers[i].out);
    if (i == 0) {
      Gemm(x, true, rdelta, false, hvp_w);
    } else {
      Gemm(ra[i], true, delta[i], false, hvp_w);
      Gemm(a[i], true, rdelta, false, hvp_w, 1.0);
    }
    SumRows(rdelta, hvp + layers[i].bias_offset);
    if (i > 0) {
      Matrix rback({rows, layers[i].in});
      Gemm(rdelta, false, weights(i), true, rback);
      Gemm(delta[i], false, direction(i), true, rback, 1.0);
      Matrix next({rows, layers[i].in});
      for (std::size_t k = 0; k < next.size(); ++k) {
        const double act = a[i].data()[k], ract = ra[i].data()[k];
        next.data()[k] = rback.data()[k] * (1.0 - act * act) - back[i].data()[k] * 2.0 * act * ract;
      }
      rdelta = std::move(next);
    } else if (pass.input_r_grad != nullptr) {
      auto rgrad_x = View(pass.input_r_grad, rows, layers[0].in);
      Gemm(rdelta, false, weights(0), true, rgrad_x);
      Gemm(delta[0], false, direction(0), true, rgrad_x, 1.0);
    }
  }
  return nll;
}

void CheckSize(const char* what, std::size_t got, std::size_t expected) {
  if (got != expected) {
    throw std::invalid_argument(std::string("Mlp: ") + what + " has " + std::to_string(got) +
                                " elements, expected " + std::to_string(expected));
  }
}

}  // namespace

MlpLayout::MlpLayout(std::vector<std::size_t> sizes) : sizes_(std::move(sizes)) {
  if (sizes_.size() < 2 || std::find(sizes_.begin(), sizes_.end(), 0u) != sizes_.end()) {
    throw std::invalid_argument("MlpLayout: need at least two positive layer sizes");
  }
  for (std::size_t i = 0; i + 1 < sizes_.size(); ++i) {
    // Checked: a wrapped product would give a small parameter count and memory errors later.
    std::size_t weights = 0, bias_offset = 0, end = 0;
    if (__builtin_mul_overflow(sizes_[i], sizes_[i + 1], &weights) ||
        __builtin_add_overflow(num_params_, weights, &bias_offset) ||
        __builtin_add_overflow(bias_offset, sizes_[i + 1], &end) || end > kMaxParameters) {
      throw std::length_error("MlpLayout: layer " + std::to_string(i) + " (" +
                              std::to_string(sizes_[i]) + " x " + std::to_string(sizes_[i + 1]) +
                              ") takes the parameter count beyond " +
                              std::to_string(kMaxParameters));
    }
    layers_.push_back(Layer{sizes_[i], sizes_[i + 1], num_params_, bias_offset});
    num_params_ = end;
  }
}

std::string MlpLayout::ParameterName(std::size_t k) const {
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const Layer& l = layers_[i];
    if (k < l.bias_offset) {
      const std::size_t j = k - l.weight_offset;
      return "W" + std::to_string(i) + "[" + std::to_string(j / l.out) + "," +
             std::to_string(j % l.out) + "]";
    }
    if (k < l.bias_offset + l.out) {
      return "b" + std::to_string(i) + "[" + std::to_string(k - l.bias_offset) + "]";
    }
  }
  return "w[" + std::to_string(k) + "] (out of range)";
}

ParameterBlocks MlpLayout::LayerParamBlocks() const {
  ParameterBlocks blocks;
  blocks.block_of.resize(num_params_);
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const Layer& l = layers_[i];
    const auto weight_block = static_cast<std::uint32_t>(2 * i);
    std::fill_n(blocks.block_of.begin() + static_cast<std::ptrdiff_t>(l.weight_offset),
                l.in * l.out, weight_block);
    std::fill_n(blocks.block_of.begin() + static_cast<std::ptrdiff_t>(l.bias_offset), l.out,
                weight_block + 1);
    blocks.names.push_back("W" + std::to_string(i));
    blocks.names.push_back("b" + std::to_string(i));
  }
  return blocks;
}

MlpLayout MlpLayout::Parse(const std::string& text) {
  // Strict: digits only, one comma between sizes, none leading or trailing.
  std::vector<std::size_t> sizes;
  const auto bad = [&](const std::string& why) {
    return std::invalid_argument("layer sizes '" + text + "': " + why +
                                 " (expected positive integers separated by commas, e.g. 784,50,10)");
  };
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos) {
      throw bad(item.empty() ? "an empty size" : "'" + item + "' is not a positive integer");
    }
    std::size_t value = 0;
    for (const char c : item) {
      if (__builtin_mul_overflow(value, std::size_t{10}, &value) ||
          __builtin_add_overflow(value, static_cast<std::size_t>(c - '0'), &value)) {
        throw bad("'" + item + "' is too large");
      }
    }
    if (value == 0) throw bad("a size of 0");
    sizes.push_back(value);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (sizes.size() < 2) throw bad("at least two sizes (inputs and outputs) are needed");
  return MlpLayout(sizes);
}

Mlp::Mlp(MlpOptions options, std::shared_ptr<const Dataset> data)
    : options_(std::move(options)), layout_(options_.layer_sizes), data_(std::move(data)) {
  if (!data_) throw std::invalid_argument("Mlp: no training data");
  data_->Validate();
  if (data_->input_dim != layout_.sizes().front() || data_->classes != layout_.sizes().back()) {
    throw std::invalid_argument("Mlp: data have " + std::to_string(data_->input_dim) +
                                " inputs and " + std::to_string(data_->classes) +
                                " classes, the network " + std::to_string(layout_.sizes().front()) +
                                " and " + std::to_string(layout_.sizes().back()));
  }
  const std::size_t l2 = options_.l2.size();
  if (l2 != 0 && l2 != 1 && l2 != num_params()) {
    throw std::invalid_argument("Mlp: l2 has " + std::to_string(l2) +
                                " values; expected 0, 1 or one per parameter (" +
                                std::to_string(num_params()) + ")");
  }
  if (options_.hyper_l2 && l2 == 0) {
    throw std::invalid_argument("Mlp: hyper_l2 needs an l2 penalty to differentiate");
  }
}

std::size_t Mlp::num_hyper() const {
  return (options_.hyper_l2 ? options_.l2.size() : 0) +
         (options_.hyper_inputs ? data_->rows * data_->input_dim : 0);
}

double Mlp::Gradient(std::span<const double> w, const Batch& batch, std::span<double> grad) const {
  std::vector<double> unused_hvp;
  return GradientAndHvp(w, batch, {}, grad, unused_hvp, {});
}

double Mlp::GradientAndHvp(std::span<const double> w, const Batch& batch,
                           std::span<const double> u, std::span<double> grad,
                           std::span<double> hvp, std::span<double> mixed) const {
  const std::size_t n = num_params(), dim = data_->input_dim, classes = data_->classes;
  CheckSize("w", w.size(), n);
  CheckSize("gradient", grad.size(), n);
  if (!u.empty()) {
    CheckSize("direction u", u.size(), n);
    CheckSize("hvp", hvp.size(), n);
    if (!mixed.empty()) CheckSize("mixed product", mixed.size(), num_hyper());
  }
  if (batch.rows.empty()) throw std::invalid_argument("Mlp: empty batch");

  // Contiguous ascending rows are used in place; anything else is gathered.
  const std::size_t first = batch.rows.front(), rows = batch.rows.size();
  bool contiguous = first + rows <= data_->rows;
  for (std::size_t j = 0; contiguous && j < rows; ++j) contiguous = batch.rows[j] == first + j;
  std::vector<double> x, t;
  if (!contiguous) {
    x.resize(rows * dim);
    t.resize(rows * classes);
    for (std::size_t j = 0; j < rows; ++j) {
      const std::size_t r = batch.rows[j];
      if (r >= data_->rows) {
        throw std::out_of_range("Mlp: batch row " + std::to_string(r) + " of a data set with " +
                                std::to_string(data_->rows) + " rows");
      }
      std::copy_n(data_->inputs.begin() + static_cast<std::ptrdiff_t>(r * dim), dim, x.begin() + static_cast<std::ptrdiff_t>(j * dim));
      std::copy_n(data_->targets.begin() + static_cast<std::ptrdiff_t>(r * classes), classes, t.begin() + static_cast<std::ptrdiff_t>(j * classes));
    }
  }
  const bool want_input_r = !u.empty() && !mixed.empty() && options_.hyper_inputs;
  std::vector<double> input_r(want_input_r ? rows * dim : 0);
  Pass pass;
  pass.x = contiguous ? data_->inputs.data() + first * dim : x.data();
  pass.t = contiguous ? data_->targets.data() + first * classes : t.data();
  pass.rows = rows;
  pass.w = w;
  pass.u = u;
  pass.grad = grad;
  pass.hvp = hvp;
  pass.input_r_grad = want_input_r ? input_r.data() : nullptr;
  double loss = Run(layout_, pass);

  // L2 penalty Σ λ_k w_k²: gradient 2λw, Hessian 2λ, mixed ∂/∂λ ⟨2λw, u⟩ = 2wu.
  const auto& l2 = options_.l2;
  if (!l2.empty()) {
    const bool scalar = l2.size() == 1;
    for (std::size_t k = 0; k < n; ++k) {
      const double lambda = l2[scalar ? 0 : k];
      loss += lambda * w[k] * w[k];
      grad[k] += 2.0 * lambda * w[k];
      if (!u.empty()) hvp[k] += 2.0 * lambda * u[k];
    }
  }
  if (!u.empty() && !mixed.empty()) {
    std::fill(mixed.begin(), mixed.end(), 0.0);
    std::size_t offset = 0;
    if (options_.hyper_l2) {
      if (l2.size() == 1) {
        for (std::size_t k = 0; k < n; ++k) mixed[0] += 2.0 * w[k] * u[k];
      } else {
        for (std::size_t k = 0; k < n; ++k) mixed[k] = 2.0 * w[k] * u[k];
      }
      offset = l2.size();
    }
    if (options_.hyper_inputs) {
      for (std::size_t j = 0; j < rows; ++j) {
        double* row = mixed.data() + offset + batch.rows[j] * dim;
        for (std::size_t d = 0; d < dim; ++d) row[d] += input_r[j * dim + d];
      }
    }
  }
  return loss;
}

Evaluation Mlp::Evaluate(std::span<const double> w, const Dataset& data,
                         std::span<double> grad) const {
  CheckSize("w", w.size(), num_params());
  if (!grad.empty()) CheckSize("gradient", grad.size(), num_params());
  if (data.input_dim != data_->input_dim || data.classes != data_->classes || data.rows == 0) {
    throw std::invalid_argument("Mlp::Evaluate: data set does not match the network");
  }
  std::size_t errors = 0;
  Pass pass;
  pass.x = data.inputs.data();
  pass.t = data.targets.data();
  pass.rows = data.rows;
  pass.w = w;
  pass.grad = grad;
  pass.errors = &errors;
  Evaluation e;
  e.nll = Run(layout_, pass);
  e.error = static_cast<double>(errors) / static_cast<double>(data.rows);
  return e;
}

}  // namespace hypergrad
