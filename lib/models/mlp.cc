#include "models/mlp.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "models/gemm.h"
#include "models/gemm_trace.h"
#include "runtime/parallel.h"

namespace hypergrad {
namespace {

// The fixed splits of one pass (parallel.h): batch rows for everything a row computes alone,
// input units of each layer for the weight gradients (whose sums run over all rows). They depend
// on the shapes only, and every boundary is on an even row (gemm.h): the same bits on any number
// of threads, and the same as one unsplit product.
// Large passes (a full-data evaluation) get more pieces, so that their scratch stays small.
constexpr std::size_t kRowChunks = 4, kMinRowsPerChunk = 16, kMaxRowsPerChunk = 1024;
constexpr std::size_t kUnitChunks = 4, kMinUnitsPerChunk = 32, kMaxBlockDoubles = std::size_t{1} << 19;
constexpr std::size_t kAlign = 2;

std::size_t AtLeast(std::size_t pieces, std::size_t total, std::size_t per_piece) {
  return std::max(pieces, (total + per_piece - 1) / per_piece);
}

ConstMatrixRef Rows(ConstMatrixRef m, Chunk c) {
  return {m.data + c.begin * m.stride, c.size(), m.cols, m.stride};
}
MatrixRef Rows(MatrixRef m, Chunk c) { return {m.data + c.begin * m.stride, c.size(), m.cols, m.stride}; }
ConstMatrixRef Columns(ConstMatrixRef m, Chunk c) {
  return {m.data + c.begin, m.rows, c.size(), m.stride};
}
ConstMatrixRef Const(MatrixRef m) { return {m.data, m.rows, m.cols, m.stride}; }

void AddBias(MatrixRef h, const double* bias) {
  for (std::size_t r = 0; r < h.rows; ++r) {
    double* row = h.data + r * h.stride;
    for (std::size_t c = 0; c < h.cols; ++c) row[c] += bias[c];
  }
}

// out[c] = Σ_r m[r, c], summed in row order.
void SumRows(ConstMatrixRef m, double* out) {
  std::fill(out, out + m.cols, 0.0);
  for (std::size_t r = 0; r < m.rows; ++r) {
    const double* row = m.data + r * m.stride;
    for (std::size_t c = 0; c < m.cols; ++c) out[c] += row[c];
  }
}

// One forward/backward pass on a batch (x: rows × in, t: rows × classes), and when `u` is
// given, the R-operator passes for H·u and R{∇_x L}. Loss = mean over rows of −Σ_c t·log p
// (no L2). Outputs are optional (empty span / null pointer = not wanted), but which ones are
// requested never changes how the gradient is computed, so its bits are always the same.
struct Pass {
  const double* x = nullptr;         // rows × in, or null: read from `source`
  const Dataset* source = nullptr;   // compact inputs of all its rows (Dataset::compact)
  const double* t = nullptr;
  std::size_t rows = 0;
  std::span<const double> w, u;
  std::span<double> grad, hvp;
  double* input_r_grad = nullptr;  // rows × in: R{∇_x L} = ∇_x ⟨∇_w L, u⟩
  std::size_t* errors = nullptr;   // count of rows whose argmax is wrong
};

// Rows c of the pass's inputs: in place, or converted from the compact source into `scratch`.
ConstMatrixRef InputRows(const Pass& pass, std::size_t in, Chunk c, std::vector<double>& scratch) {
  if (pass.source == nullptr) return {pass.x + c.begin * in, c.size(), in, in};
  scratch.resize(c.size() * in);
  for (std::size_t r = 0; r < c.size(); ++r) pass.source->CopyInputRow(c.begin + r, scratch.data() + r * in);
  return {scratch.data(), c.size(), in, in};
}

// Columns `units` of the pass's inputs, every row: a view, or converted into `scratch`.
ConstMatrixRef InputColumns(const Pass& pass, std::size_t in, Chunk units,
                            std::vector<double>& scratch) {
  if (pass.source == nullptr) return Columns({pass.x, pass.rows, in, in}, units);
  scratch.resize(pass.rows * units.size());
  pass.source->CopyInputColumns(units.begin, units.end, scratch.data());
  return {scratch.data(), pass.rows, units.size(), units.size()};
}

// The products of one pass by their whole shapes, in the order of the unsplit algorithm: what
// the benchmarks' cost floor replays (gemm_trace.h), whatever the split.
void TraceProducts(const MlpLayout& layout, const Pass& pass) {
  if (!GemmTrace::Active()) return;
  const auto& layers = layout.layers();
  const std::size_t depth = layers.size(), rows = pass.rows;
  for (const auto& l : layers) GemmTrace::Record({rows, l.out, l.in, false, false, false});
  if (pass.grad.empty()) return;
  for (std::size_t i = depth; i-- > 0;) {
    GemmTrace::Record({layers[i].in, layers[i].out, rows, true, false, false});
    if (i > 0) GemmTrace::Record({rows, layers[i].in, layers[i].out, false, true, false});
  }
  if (pass.u.empty()) return;
  for (std::size_t i = 0; i < depth; ++i) {
    GemmTrace::Record({rows, layers[i].out, layers[i].in, false, false, false});
    if (i > 0) GemmTrace::Record({rows, layers[i].out, layers[i].in, false, false, true});
  }
  for (std::size_t i = depth; i-- > 0;) {
    GemmTrace::Record({layers[i].in, layers[i].out, rows, true, false, false});
    if (i > 0) GemmTrace::Record({layers[i].in, layers[i].out, rows, true, false, true});
    if (i > 0 || pass.input_r_grad != nullptr) {
      GemmTrace::Record({rows, layers[i].in, layers[i].out, false, true, false});
      GemmTrace::Record({rows, layers[i].in, layers[i].out, false, true, true});
    }
  }
}

// Three phases, each a parallel loop over its fixed split: (A) rows: forward to the logits and
// the R-forward; then the batch's largest logit (the authors subtract the global maximum);
// (B) rows: softmax, backward deltas, R-backward; then the loss, summed in row order; (C) input
// units: weight gradients and Hessian-vector products, and the bias sums.
double Run(const MlpLayout& layout, const Pass& pass, unsigned threads, TanhKernel tanh) {
  const auto& layers = layout.layers();
  const std::size_t depth = layers.size(), rows = pass.rows;
  const std::size_t classes = layers.back().out;
  const bool want_grad = !pass.grad.empty(), want_r = !pass.u.empty();
  const double* w = pass.w.data();
  const double* u = pass.u.data();
  TraceProducts(layout, pass);

  // a[i]: input of layer i (a[0] unused: x), a[depth] the logits; ra = R{a}; delta[i] =
  // ∂L/∂(pre-activation output of layer i), rdelta = R{delta}.
  std::vector<std::vector<double>> a(depth + 1), ra(want_r ? depth + 1 : 0);
  std::vector<std::vector<double>> delta(want_grad ? depth : 0), rdelta(want_r ? depth : 0);
  for (std::size_t i = 0; i < depth; ++i) {
    a[i + 1].resize(rows * layers[i].out);
    if (want_r) ra[i + 1].resize(rows * layers[i].out);
    if (want_grad) delta[i].resize(rows * layers[i].out);
    if (want_r) rdelta[i].resize(rows * layers[i].out);
  }
  auto mat = [rows](std::vector<double>& m, std::size_t cols) { return MatrixRef{m.data(), rows, cols, cols}; };
  auto input = [&](std::size_t i) {  // the input of hidden layer i > 0, all rows
    return Const(mat(a[i], layers[i].in));
  };
  auto weights = [&](std::size_t i) {
    return ConstMatrixRef{w + layers[i].weight_offset, layers[i].in, layers[i].out, layers[i].out};
  };
  auto direction = [&](std::size_t i) {
    return ConstMatrixRef{u + layers[i].weight_offset, layers[i].in, layers[i].out, layers[i].out};
  };
  const std::vector<Chunk> chunks = FixedChunks(
      rows, AtLeast(kRowChunks, rows, kMaxRowsPerChunk), kMinRowsPerChunk, kAlign);

  // (A) Forward, then R-forward (R{x} = 0).
  ParallelFor(chunks.size(), threads, [&](std::size_t j) {
    const Chunk c = chunks[j];
    std::vector<double> scratch;
    const ConstMatrixRef x = InputRows(pass, layers[0].in, c, scratch);
    for (std::size_t i = 0; i < depth; ++i) {
      const MatrixRef h = Rows(mat(a[i + 1], layers[i].out), c);
      Gemm(i == 0 ? x : Rows(input(i), c), false, weights(i), false, h);
      AddBias(h, w + layers[i].bias_offset);
      if (i + 1 < depth) TanhInPlace({h.data, h.rows * h.cols}, tanh);
    }
    if (!want_r) return;
    for (std::size_t i = 0; i < depth; ++i) {
      const MatrixRef rh = Rows(mat(ra[i + 1], layers[i].out), c);
      if (i == 0) {
        Gemm(x, false, direction(0), false, rh);
      } else {
        Gemm(Rows(Const(mat(ra[i], layers[i].in)), c), false, weights(i), false, rh);
        Gemm(Rows(input(i), c), false, direction(i), false, rh, 1.0);
      }
      AddBias(rh, u + layers[i].bias_offset);
      if (i + 1 < depth) {
        const double* act = a[i + 1].data() + c.begin * layers[i].out;
        for (std::size_t k = 0; k < rh.rows * rh.cols; ++k) rh.data[k] *= 1.0 - act[k] * act[k];
      }
    }
  });

  // Log-softmax with the global maximum subtracted for stability (as the authors' code).
  const std::vector<double>& z = a[depth];
  const double zmax = *std::max_element(z.begin(), z.end());
  const double inv_rows = 1.0 / static_cast<double>(rows);
  std::vector<double> log_p(rows * classes), p(rows * classes), target_mass(rows, 0.0);
  std::vector<unsigned char> wrong(rows, 0);

  // (B) Softmax and the backward deltas; back_i = delta_i·W_iᵀ is per-chunk scratch.
  ParallelFor(chunks.size(), threads, [&](std::size_t j) {
    const Chunk c = chunks[j];
    for (std::size_t r = c.begin; r < c.end; ++r) {
      const double* zr = z.data() + r * classes;
      const double* tr = pass.t + r * classes;
      double sum = 0.0;
      for (std::size_t k = 0; k < classes; ++k) sum += std::exp(zr[k] - zmax);
      const double log_sum = std::log(sum);
      std::size_t predicted = 0, truth = 0;
      for (std::size_t k = 0; k < classes; ++k) {
        const double lp = zr[k] - zmax - log_sum;
        log_p[r * classes + k] = lp;
        target_mass[r] += tr[k];
        p[r * classes + k] = std::exp(lp);
        if (zr[k] > zr[predicted]) predicted = k;
        if (tr[k] > tr[truth]) truth = k;
      }
      wrong[r] = predicted != truth;
    }
    if (!want_grad) return;
    for (std::size_t r = c.begin; r < c.end; ++r) {
      for (std::size_t k = 0; k < classes; ++k) {
        delta[depth - 1][r * classes + k] =
            (p[r * classes + k] * target_mass[r] - pass.t[r * classes + k]) * inv_rows;
      }
    }
    std::vector<std::vector<double>> back(depth);
    for (std::size_t i = depth; i-- > 1;) {
      const std::size_t in = layers[i].in;
      back[i].resize(c.size() * in);
      const MatrixRef b{back[i].data(), c.size(), in, in};
      Gemm(Rows(Const(mat(delta[i], layers[i].out)), c), false, weights(i), true, b);
      const double* act = a[i].data() + c.begin * in;
      double* next = delta[i - 1].data() + c.begin * in;
      for (std::size_t k = 0; k < b.rows * in; ++k) next[k] = b.data[k] * (1.0 - act[k] * act[k]);
    }
    if (!want_r) return;
    // R{log p} = R{z} − Σ_c p·R{z} per row; R{delta} = R{p}·(target mass)/rows.
    for (std::size_t r = c.begin; r < c.end; ++r) {
      const double* rz = ra[depth].data() + r * classes;
      const double* pr = p.data() + r * classes;
      double mean = 0.0;
      for (std::size_t k = 0; k < classes; ++k) mean += pr[k] * rz[k];
      for (std::size_t k = 0; k < classes; ++k) {
        rdelta[depth - 1][r * classes + k] = pr[k] * (rz[k] - mean) * target_mass[r] * inv_rows;
      }
    }
    std::vector<double> rback;
    for (std::size_t i = depth; i-- > 0;) {
      if (i == 0 && pass.input_r_grad == nullptr) break;
      const std::size_t in = layers[i].in;
      rback.resize(c.size() * in);
      const MatrixRef rb = i > 0 ? MatrixRef{rback.data(), c.size(), in, in}
                                 : Rows(MatrixRef{pass.input_r_grad, rows, in, in}, c);
      Gemm(Rows(Const(mat(rdelta[i], layers[i].out)), c), false, weights(i), true, rb);
      Gemm(Rows(Const(mat(delta[i], layers[i].out)), c), false, direction(i), true, rb, 1.0);
      if (i == 0) break;
      const double* act = a[i].data() + c.begin * in;
      const double* ract = ra[i].data() + c.begin * in;
      double* next = rdelta[i - 1].data() + c.begin * in;
      for (std::size_t k = 0; k < rb.rows * in; ++k) {
        next[k] = rb.data[k] * (1.0 - act[k] * act[k]) - back[i][k] * 2.0 * act[k] * ract[k];
      }
    }
  });

  double nll = 0.0;
  for (std::size_t k = 0; k < rows * classes; ++k) nll -= pass.t[k] * log_p[k];
  if (pass.errors != nullptr) *pass.errors += static_cast<std::size_t>(std::count(wrong.begin(), wrong.end(), 1));
  nll *= inv_rows;
  if (!want_grad) return nll;

  // (C) ∂L/∂W_i = a_iᵀ·delta_i and H·u for W_i = R{a_i}ᵀ·delta_i + a_iᵀ·R{delta_i}, each over all
  // rows, split by layer i's input units; the bias sums one task per layer.
  struct Task {
    std::size_t layer;
    Chunk units;  // empty: the layer's biases
  };
  std::vector<Task> tasks;
  for (std::size_t i = 0; i < depth; ++i) {
    const std::size_t pieces = AtLeast(kUnitChunks, rows * layers[i].in, kMaxBlockDoubles);
    for (const Chunk c : FixedChunks(layers[i].in, pieces, kMinUnitsPerChunk, kAlign)) tasks.push_back({i, c});
  }
  for (std::size_t i = 0; i < depth; ++i) tasks.push_back({i, {}});
  double* grad = pass.grad.data();
  double* hvp = pass.hvp.data();
  ParallelFor(tasks.size(), threads, [&](std::size_t k) {
    const std::size_t i = tasks[k].layer, out = layers[i].out;
    const Chunk units = tasks[k].units;
    const ConstMatrixRef d = Const(mat(delta[i], out));
    if (units.size() == 0) {
      SumRows(d, grad + layers[i].bias_offset);
      if (want_r) SumRows(Const(mat(rdelta[i], out)), hvp + layers[i].bias_offset);
      return;
    }
    const std::size_t offset = layers[i].weight_offset + units.begin * out;
    std::vector<double> scratch;
    const ConstMatrixRef in_units =
        i == 0 ? InputColumns(pass, layers[0].in, units, scratch) : Columns(input(i), units);
    Gemm(in_units, true, d, false, MatrixRef{grad + offset, units.size(), out, out});
    if (!want_r) return;
    const MatrixRef h{hvp + offset, units.size(), out, out};
    const ConstMatrixRef rd = Const(mat(rdelta[i], out));
    if (i == 0) {
      Gemm(in_units, true, rd, false, h);
    } else {
      Gemm(Columns(Const(mat(ra[i], layers[i].in)), units), true, d, false, h);
      Gemm(in_units, true, rd, false, h, 1.0);
    }
  });
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
  if (options_.threads == 0) throw std::invalid_argument("Mlp: threads must be at least 1");
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
  if (options_.hyper_inputs && data_->compact()) {
    throw std::invalid_argument("Mlp: hyper_inputs needs the inputs as doubles, not a compact data set");
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
  bool contiguous = !data_->compact() && first + rows <= data_->rows;
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
      data_->CopyInputRow(r, x.data() + j * dim);
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
  double loss = Run(layout_, pass, options_.threads, options_.tanh);

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
  if (data.compact()) pass.source = &data; else pass.x = data.inputs.data();
  pass.t = data.targets.data();
  pass.rows = data.rows;
  pass.w = w;
  pass.grad = grad;
  pass.errors = &errors;
  Evaluation e;
  e.nll = Run(layout_, pass, options_.threads, options_.tanh);
  e.error = static_cast<double>(errors) / static_cast<double>(data.rows);
  return e;
}

ModelInfo MlpModelInfo() {
  ModelFlag layers{"layers", "784,50,50,50,10", "layer sizes: inputs, hidden..., classes", {}};
  layers.check = [](const std::string& text) -> std::string {
    try {
      MlpLayout::Parse(text);
    } catch (const std::exception& e) {
      return e.what();
    }
    return {};
  };
  ModelFlag tanh{"tanh", "libm",
                 "the hidden layers' tanh: libm (glibc's, every committed result) or "
                 "polynomial (vectorised, within 4 ulp of glibc's, faster; other bits)",
                 {}};
  tanh.check = [](const std::string& text) -> std::string {
    return text == "libm" || text == "polynomial" ? std::string()
                                                  : "expected libm or polynomial";
  };
  ModelInfo info{"mlp", "tanh multilayer perceptron, log-softmax outputs (the paper's network)",
                 {layers, tanh}, {}, {}};
  info.shape = [](const std::map<std::string, std::string>& flags) -> std::optional<DataShape> {
    const MlpLayout layout = MlpLayout::Parse(flags.at("layers"));
    return DataShape{layout.sizes().front(), layout.sizes().back()};
  };
  info.make = [](std::shared_ptr<const Dataset> data, const ModelSettings& settings) {
    const std::string& text = settings.flags.at("layers");
    const MlpLayout layout = MlpLayout::Parse(text);
    if (!data) throw std::invalid_argument("mlp: no training data");
    if (layout.sizes().front() != data->input_dim || layout.sizes().back() != data->classes) {
      throw std::invalid_argument("--layers " + text + " must start with " +
                                  std::to_string(data->input_dim) + " (the data's inputs) and end with " +
                                  std::to_string(data->classes) + " (its classes)");
    }
    const MlpOptions options{layout.sizes(), {}, false, false, settings.threads,
                             ParseTanhKernel(settings.flags.at("tanh"))};
    auto mlp = std::make_shared<const Mlp>(options, data);
    ToolModel tool;
    tool.model = mlp;
    tool.objective = [mlp](std::span<const double> w, std::span<double> d_w) {
      return mlp->Evaluate(w, mlp->data(), d_w).nll;
    };
    tool.with_l2 = [options, data](std::span<const double> lambda) {
      MlpOptions o = options;
      o.l2.assign(lambda.begin(), lambda.end());
      o.hyper_l2 = true;
      return std::shared_ptr<const Model>(std::make_shared<const Mlp>(o, data));
    };
    tool.blocks = [layout] { return layout.LayerParamBlocks(); };
    for (const MlpLayout::Layer& layer : layout.layers()) {
      tool.fan_in.push_back(layer.in);  // W_i
      tool.fan_in.push_back(layer.in);  // b_i
    }
    tool.description = "[" + text + "]";
    return tool;
  };
  return info;
}

}  // namespace hypergrad
