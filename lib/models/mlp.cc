#include "models/mlp.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <utility>
#include <vector>

#include "models/gemm.h"
#include "models/gemm_trace.h"
#include "runtime/large_buffer.h"
#include "runtime/parallel.h"
#include "runtime/step_profile.h"

namespace hypergrad {
namespace {

// The fixed splits of one pass (parallel.h): batch rows for everything a row computes alone,
// input units of each layer for the weight gradients (whose sums run over all rows). They depend
// on the shapes only (one thread runs the same pieces), so the bits are the same on any number
// of threads; they need not be those of one unsplit product (gemm.h).
// Large passes (a full-data evaluation) get more pieces, so that their scratch stays small.
// Row pieces are whole multiples of the AVX-512 product's 12-row tile (gemm_portable.cc), and
// a batch of 200 gets nine (8 × 24 + 8) rather than four of 50 (4 × 12 + 2 each): no padded
// tile rows but the last piece's, and on two threads an idle one can take a ninth of the work
// instead of a quarter (hypergrad T = 300, best of 7 alternating: 0.878 s → 0.829 s on two
// threads, 1.180 s → 1.156 s on one). Each row is computed alone, so the split moves no bit.
constexpr std::size_t kRowChunks = 9, kMinRowsPerChunk = 16, kMaxRowsPerChunk = 1024, kRowAlign = 12;
constexpr std::size_t kUnitChunks = 4, kMinUnitsPerChunk = 32, kMaxBlockDoubles = std::size_t{1} << 19;
constexpr std::size_t kAlign = 2;  // unit pieces start on even units: the committed results' splits

// A pass's buffers (activations, deltas, converted inputs), left uninitialised: every one is
// written whole before it is read (by a product with beta 0, which ignores C, or by a loop over all
// its rows); the zero fill of a plain vector's resize was ~3% of a hypergradient run (perf,
// memset). A full-set pass's buffers (megabytes) get huge pages (large_buffer.h).
using Doubles = std::vector<double, LargeBufferAllocator<double>>;

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
  // Inputs converted where they are read, into each piece's own scratch: row r of the pass is
  // row source_rows[r] of `source` (row r if source_rows is null).
  const Dataset* source = nullptr;
  const std::size_t* source_rows = nullptr;
  // Or a batch gathered by the pass itself: row r is row gather_rows[r] of `gather`, its input
  // converted into x_gathered (x points there) by the forward loop's piece that computes it.
  const Dataset* gather = nullptr;
  const std::size_t* gather_rows = nullptr;
  double* x_gathered = nullptr;
  const double* t = nullptr;
  std::size_t rows = 0;
  std::span<const double> w, u;
  std::span<double> grad, hvp;
  double* input_r_grad = nullptr;  // rows × in: R{∇_x L} = ∇_x ⟨∇_w L, u⟩
  std::size_t* errors = nullptr;   // count of rows whose argmax is wrong
};

// Rows c of the pass's inputs: in place, or converted from the compact source into `scratch`
// (a buffer of the pass's ScratchPool, never one kept beyond the pass).
ConstMatrixRef InputRows(const Pass& pass, std::size_t in, Chunk c, Doubles& scratch) {
  const StepPieceTimer timer(StepPiece::kInputConversion);
  if (pass.gather != nullptr) {
    for (std::size_t r = c.begin; r < c.end; ++r) pass.gather->CopyInputRow(pass.gather_rows[r], pass.x_gathered + r * in);
  }
  if (pass.source == nullptr) return {pass.x + c.begin * in, c.size(), in, in};
  scratch.resize(c.size() * in);
  for (std::size_t r = 0; r < c.size(); ++r) {
    const std::size_t row = c.begin + r;
    pass.source->CopyInputRow(pass.source_rows ? pass.source_rows[row] : row, scratch.data() + r * in);
  }
  return {scratch.data(), c.size(), in, in};
}

// Columns `units` of the pass's inputs, every row: a view, or converted into `scratch`.
ConstMatrixRef InputColumns(const Pass& pass, std::size_t in, Chunk units, Doubles& scratch) {
  const StepPieceTimer timer(StepPiece::kInputConversion);
  if (pass.source == nullptr) return Columns({pass.x, pass.rows, in, in}, units);
  scratch.resize(pass.rows * units.size());
  if (pass.source_rows != nullptr) {
    pass.source->CopyInputColumns({pass.source_rows, pass.rows}, units.begin, units.end, scratch.data());
  } else {
    pass.source->CopyInputColumns(units.begin, units.end, scratch.data());
  }
  return {scratch.data(), pass.rows, units.size(), units.size()};
}

// The products of one pass by their whole shapes, in the order of the unsplit algorithm: what
// the benchmarks' cost floor replays (gemm_trace.h), whatever the split. A GemmPair counts as the
// one product twice as wide that the portable kernel runs (accumulating when either half does).
void TraceProducts(const MlpLayout& layout, const Pass& pass) {
  if (!GemmTrace::Active()) return;
  const auto& layers = layout.layers();
  const std::size_t depth = layers.size(), rows = pass.rows;
  const bool r = !pass.u.empty();
  for (const auto& l : layers) GemmTrace::Record({rows, l.out, l.in, false, false, false});  // Forward
  for (std::size_t i = 0; r && i < depth; ++i) {  // RForward
    GemmTrace::Record({rows, layers[i].out, layers[i].in, false, false, false});
    if (i > 0) GemmTrace::Record({rows, layers[i].out, layers[i].in, false, false, true});
  }
  if (pass.grad.empty()) return;
  for (std::size_t i = depth; i-- > 0;) {  // Backward
    if (i > 0) GemmTrace::Record({rows, layers[i].in, layers[i].out, false, true, false});
  }
  for (std::size_t i = depth; i-- > 0;) {  // RBackward
    if (r && (i > 0 || pass.input_r_grad != nullptr)) {
      GemmTrace::Record({rows, layers[i].in, layers[i].out, false, true, false});
      GemmTrace::Record({rows, layers[i].in, layers[i].out, false, true, true});
    }
  }
  for (std::size_t i = depth; i-- > 0;) {  // WeightGradients
    const std::size_t in = layers[i].in, out = layers[i].out;
    if (!r) {
      GemmTrace::Record({in, out, rows, true, false, false});
      continue;
    }
    if (i > 0) GemmTrace::Record({in, out, rows, true, false, false});
    GemmTrace::Record({in, 2 * out, rows, true, false, i > 0});
  }
}

// Scratch buffers for the input conversions of one pass (InputRows, InputColumns): a piece
// takes a buffer left by a finished piece, or a new one, and gives it back when done, so a pass
// holds at most one per thread, all freed with the pass (nothing outlives it for the heap
// benchmarks to count). A full-set pass's pieces convert megabytes each: with a buffer of their
// own, each of the final loss's 10 row pieces and 15 input-unit pieces mapped, faulted and
// zeroed fresh huge pages (clear_page_erms, ~10% of a hypergrad --iters 1 run, perf).
class ScratchPool {
 public:
  class Lease {
   public:
    explicit Lease(ScratchPool& pool) : pool_(pool), buffer_(pool.Take()) {}
    ~Lease() { pool_.Give(std::move(buffer_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Doubles& get() { return *buffer_; }

   private:
    ScratchPool& pool_;
    std::unique_ptr<Doubles> buffer_;
  };

 private:
  std::unique_ptr<Doubles> Take() {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (free_.empty()) return std::make_unique<Doubles>();
    std::unique_ptr<Doubles> b = std::move(free_.back());
    free_.pop_back();
    return b;
  }
  void Give(std::unique_ptr<Doubles> b) {
    const std::lock_guard<std::mutex> lock(mutex_);
    free_.push_back(std::move(b));
  }
  std::mutex mutex_;
  std::vector<std::unique_ptr<Doubles>> free_;
};

// What one Run keeps between its phases, allocated for the outputs the pass asks for. a[i]: the
// input of layer i (a[0] unused: x), a[depth] the logits; ra = R{a}; delta[i] = ∂L/∂(pre-
// activation output of layer i), rdelta = R{delta}; log_p, p: the softmax per row and class;
// target_mass: Σ_c t per row; wrong: 1 where the row's argmax is not its target's.
struct RunState {
  RunState(const MlpLayout& layout, const Pass& the_pass, TanhKernel kernel);

  // Every row of activation or delta m of width `cols`.
  MatrixRef mat(Doubles& m, std::size_t cols) const { return {m.data(), rows, cols, cols}; }
  // The input of hidden layer i > 0, all rows.
  ConstMatrixRef input(std::size_t i) { return Const(mat(a[i], layers[i].in)); }
  // W_i of the weights w, and of the direction u.
  ConstMatrixRef weights(std::size_t i) const {
    return {w + layers[i].weight_offset, layers[i].in, layers[i].out, layers[i].out};
  }
  ConstMatrixRef direction(std::size_t i) const {
    return {u + layers[i].weight_offset, layers[i].in, layers[i].out, layers[i].out};
  }

  const Pass& pass;
  const std::vector<MlpLayout::Layer>& layers;
  const std::size_t depth, rows, classes;
  const bool want_grad, want_r;
  const double* const w;
  const double* const u;
  const TanhKernel tanh;
  const double inv_rows;
  std::vector<Doubles> a, ra, delta, rdelta;
  double zmax = 0.0;  // the batch's largest logit, set after the forward phase
  Doubles log_p, p;
  std::vector<double> target_mass;
  std::vector<unsigned char> wrong;
  ScratchPool scratch;  // the input conversions' buffers
};

RunState::RunState(const MlpLayout& layout, const Pass& the_pass, TanhKernel kernel)
    : pass(the_pass),
      layers(layout.layers()),
      depth(layers.size()),
      rows(the_pass.rows),
      classes(layers.back().out),
      want_grad(!the_pass.grad.empty()),
      want_r(!the_pass.u.empty()),
      w(the_pass.w.data()),
      u(the_pass.u.data()),
      tanh(kernel),
      inv_rows(1.0 / static_cast<double>(rows)),
      a(depth + 1),
      ra(want_r ? depth + 1 : 0),
      delta(want_grad ? depth : 0),
      rdelta(want_r ? depth : 0) {
  for (std::size_t i = 0; i < depth; ++i) {
    a[i + 1].resize(rows * layers[i].out);
    if (want_r) ra[i + 1].resize(rows * layers[i].out);
    if (want_grad) delta[i].resize(rows * layers[i].out);
    if (want_r) rdelta[i].resize(rows * layers[i].out);
  }
}

// Rows c, forward: a[i+1] = tanh(a[i]·W_i + b_i) for hidden layers, the logits without tanh.
void Forward(RunState& s, Chunk c, ConstMatrixRef x) {
  for (std::size_t i = 0; i < s.depth; ++i) {
    const MatrixRef h = Rows(s.mat(s.a[i + 1], s.layers[i].out), c);
    Gemm(i == 0 ? x : Rows(s.input(i), c), false, s.weights(i), false, h);
    AddBias(h, s.w + s.layers[i].bias_offset);
    if (i + 1 < s.depth) TanhInPlace({h.data, h.rows * h.cols}, s.tanh);
  }
}

// Rows c, R-forward (after Forward on them; R{x} = 0): R{a[i+1]} = (R{a[i]}·W_i + a[i]·U_i +
// ub_i) ⊙ (1 − a[i+1]²) for hidden layers, without the factor for the logits.
void RForward(RunState& s, Chunk c, ConstMatrixRef x) {
  for (std::size_t i = 0; i < s.depth; ++i) {
    const MatrixRef rh = Rows(s.mat(s.ra[i + 1], s.layers[i].out), c);
    if (i == 0) {
      Gemm(x, false, s.direction(0), false, rh);
    } else {
      Gemm(Rows(Const(s.mat(s.ra[i], s.layers[i].in)), c), false, s.weights(i), false, rh);
      Gemm(Rows(s.input(i), c), false, s.direction(i), false, rh, 1.0);
    }
    AddBias(rh, s.u + s.layers[i].bias_offset);
    if (i + 1 < s.depth) {
      const double* act = s.a[i + 1].data() + c.begin * s.layers[i].out;
      for (std::size_t k = 0; k < rh.rows * rh.cols; ++k) rh.data[k] *= 1.0 - act[k] * act[k];
    }
  }
}

// Rows c: log-softmax with the global maximum s.zmax subtracted (as the authors' code), p, the
// target mass and whether the argmax is wrong.
void Softmax(RunState& s, Chunk c) {
  const std::size_t classes = s.classes;
  const Doubles& z = s.a[s.depth];
  for (std::size_t r = c.begin; r < c.end; ++r) {
    const double* zr = z.data() + r * classes;
    const double* tr = s.pass.t + r * classes;
    double sum = 0.0;
    for (std::size_t k = 0; k < classes; ++k) sum += std::exp(zr[k] - s.zmax);
    const double log_sum = std::log(sum);
    std::size_t predicted = 0, truth = 0;
    for (std::size_t k = 0; k < classes; ++k) {
      const double lp = zr[k] - s.zmax - log_sum;
      s.log_p[r * classes + k] = lp;
      s.target_mass[r] += tr[k];
      s.p[r * classes + k] = std::exp(lp);
      if (zr[k] > zr[predicted]) predicted = k;
      if (tr[k] > tr[truth]) truth = k;
    }
    s.wrong[r] = predicted != truth;
  }
}

// Rows c, backward (after Softmax on them): the deltas of every layer. Returns back_i =
// delta_i·W_iᵀ (rows c only) for i ≥ 1, which RBackward needs.
std::vector<Doubles> Backward(RunState& s, Chunk c) {
  const std::size_t classes = s.classes, last = s.depth - 1;
  for (std::size_t r = c.begin; r < c.end; ++r) {
    for (std::size_t k = 0; k < classes; ++k) {
      s.delta[last][r * classes + k] =
          (s.p[r * classes + k] * s.target_mass[r] - s.pass.t[r * classes + k]) * s.inv_rows;
    }
  }
  std::vector<Doubles> back(s.depth);
  for (std::size_t i = s.depth; i-- > 1;) {
    const std::size_t in = s.layers[i].in;
    back[i].resize(c.size() * in);
    const MatrixRef b{back[i].data(), c.size(), in, in};
    Gemm(Rows(Const(s.mat(s.delta[i], s.layers[i].out)), c), false, s.weights(i), true, b);
    const double* act = s.a[i].data() + c.begin * in;
    double* next = s.delta[i - 1].data() + c.begin * in;
    for (std::size_t k = 0; k < b.rows * in; ++k) next[k] = b.data[k] * (1.0 - act[k] * act[k]);
  }
  return back;
}

// Rows c, R-backward (after Backward on them, `back` its result): R{delta} of every layer, and
// R{∇_x L} into pass.input_r_grad when asked. R{log p} = R{z} − Σ_c p·R{z} per row; R{delta} of
// the logits = R{p}·(target mass)/rows.
void RBackward(RunState& s, Chunk c, const std::vector<Doubles>& back) {
  const std::size_t classes = s.classes, last = s.depth - 1;
  for (std::size_t r = c.begin; r < c.end; ++r) {
    const double* rz = s.ra[s.depth].data() + r * classes;
    const double* pr = s.p.data() + r * classes;
    double mean = 0.0;
    for (std::size_t k = 0; k < classes; ++k) mean += pr[k] * rz[k];
    for (std::size_t k = 0; k < classes; ++k) {
      s.rdelta[last][r * classes + k] = pr[k] * (rz[k] - mean) * s.target_mass[r] * s.inv_rows;
    }
  }
  Doubles rback;
  for (std::size_t i = s.depth; i-- > 0;) {
    if (i == 0 && s.pass.input_r_grad == nullptr) break;
    const std::size_t in = s.layers[i].in;
    rback.resize(c.size() * in);
    const MatrixRef rb = i > 0 ? MatrixRef{rback.data(), c.size(), in, in}
                               : Rows(MatrixRef{s.pass.input_r_grad, s.rows, in, in}, c);
    Gemm(Rows(Const(s.mat(s.rdelta[i], s.layers[i].out)), c), false, s.weights(i), true, rb);
    Gemm(Rows(Const(s.mat(s.delta[i], s.layers[i].out)), c), false, s.direction(i), true, rb, 1.0);
    if (i == 0) break;
    const double* act = s.a[i].data() + c.begin * in;
    const double* ract = s.ra[i].data() + c.begin * in;
    double* next = s.rdelta[i - 1].data() + c.begin * in;
    for (std::size_t k = 0; k < rb.rows * in; ++k) {
      next[k] = rb.data[k] * (1.0 - act[k] * act[k]) - back[i][k] * 2.0 * act[k] * ract[k];
    }
  }
}

// The mean loss −Σ t·log p / rows, summed in row order (after Softmax on every row); adds the
// wrong rows to pass.errors when asked.
double MeanLoss(const RunState& s) {
  double nll = 0.0;
  for (std::size_t k = 0; k < s.rows * s.classes; ++k) nll -= s.pass.t[k] * s.log_p[k];
  if (s.pass.errors != nullptr) {
    *s.pass.errors += static_cast<std::size_t>(std::count(s.wrong.begin(), s.wrong.end(), 1));
  }
  return nll * s.inv_rows;
}

// ∂L/∂W_i = a_iᵀ·delta_i and H·u for W_i = R{a_i}ᵀ·delta_i + a_iᵀ·R{delta_i}, each over all rows,
// split by layer i's input units; the bias sums one task per layer (after Backward and RBackward
// on every row).
void WeightGradients(RunState& s, unsigned threads) {
  struct Task {
    std::size_t layer;
    Chunk units;  // empty: the layer's biases
  };
  const auto& layers = s.layers;
  std::vector<Task> tasks;
  for (std::size_t i = 0; i < s.depth; ++i) {
    const std::size_t pieces = AtLeast(kUnitChunks, s.rows * layers[i].in, kMaxBlockDoubles);
    for (const Chunk c : FixedChunks(layers[i].in, pieces, kMinUnitsPerChunk, kAlign)) tasks.push_back({i, c});
  }
  for (std::size_t i = 0; i < s.depth; ++i) tasks.push_back({i, {}});
  double* grad = s.pass.grad.data();
  double* hvp = s.pass.hvp.data();
  ParallelFor(tasks.size(), threads, [&](std::size_t k) {
    const std::size_t i = tasks[k].layer, out = layers[i].out;
    const Chunk units = tasks[k].units;
    const ConstMatrixRef d = Const(s.mat(s.delta[i], out));
    if (units.size() == 0) {
      SumRows(d, grad + layers[i].bias_offset);
      if (s.want_r) SumRows(Const(s.mat(s.rdelta[i], out)), hvp + layers[i].bias_offset);
      return;
    }
    const std::size_t offset = layers[i].weight_offset + units.begin * out;
    ScratchPool::Lease scratch(s.scratch);
    const ConstMatrixRef in_units =
        i == 0 ? InputColumns(s.pass, layers[0].in, units, scratch.get()) : Columns(s.input(i), units);
    const MatrixRef g{grad + offset, units.size(), out, out};
    if (!s.want_r) {
      Gemm(in_units, true, d, false, g);
      return;
    }
    // H·u = R{a_i}ᵀ·delta_i, then a_iᵀ·R{delta_i} added; a_iᵀ·delta_i and a_iᵀ·R{delta_i} as one
    // pair (GemmPair: every element the bits of two calls).
    const MatrixRef h{hvp + offset, units.size(), out, out};
    if (i > 0) Gemm(Columns(Const(s.mat(s.ra[i], layers[i].in)), units), true, d, false, h);
    GemmPair(in_units, true, d, g, 0.0, Const(s.mat(s.rdelta[i], out)), h, i == 0 ? 0.0 : 1.0);
  });
}

// Three phases, each a parallel loop over its fixed split: (A) rows: Forward to the logits and
// RForward; then the batch's largest logit (the authors subtract the global maximum);
// (B) rows: Softmax, Backward, RBackward; then MeanLoss, summed in row order; (C) input units:
// WeightGradients (and Hessian-vector products), and the bias sums.
double Run(const MlpLayout& layout, const Pass& pass, unsigned threads, TanhKernel tanh) {
  TraceProducts(layout, pass);
  RunState s(layout, pass, tanh);
  const std::vector<Chunk> chunks = FixedChunks(
      s.rows, AtLeast(kRowChunks, s.rows, kMaxRowsPerChunk), kMinRowsPerChunk, kRowAlign);

  ParallelFor(chunks.size(), threads, [&](std::size_t j) {
    ScratchPool::Lease scratch(s.scratch);
    const ConstMatrixRef x = InputRows(pass, s.layers[0].in, chunks[j], scratch.get());
    Forward(s, chunks[j], x);
    if (s.want_r) RForward(s, chunks[j], x);
  });

  const Doubles& z = s.a[s.depth];
  s.zmax = *std::max_element(z.begin(), z.end());
  s.log_p.resize(s.rows * s.classes);
  s.p.resize(s.rows * s.classes);
  s.target_mass.assign(s.rows, 0.0);
  s.wrong.assign(s.rows, 0);

  ParallelFor(chunks.size(), threads, [&](std::size_t j) {
    Softmax(s, chunks[j]);
    if (!s.want_grad) return;
    const std::vector<Doubles> back = Backward(s, chunks[j]);
    if (s.want_r) RBackward(s, chunks[j], back);
  });

  const double nll = MeanLoss(s);
  if (s.want_grad) WeightGradients(s, threads);
  return nll;
}

// The L2 penalty Σ λ_k w_k² (l2: empty, one λ or one per parameter): returns loss plus it, adds
// its gradient 2λw to grad and, when u is given, its Hessian-vector product 2λu to hvp.
double AddL2Penalty(const std::vector<double>& l2, std::span<const double> w,
                    std::span<const double> u, double loss, std::span<double> grad,
                    std::span<double> hvp) {
  if (l2.empty()) return loss;
  const bool scalar = l2.size() == 1;
  for (std::size_t k = 0; k < w.size(); ++k) {
    const double lambda = l2[scalar ? 0 : k];
    loss += lambda * w[k] * w[k];
    grad[k] += 2.0 * lambda * w[k];
    if (!u.empty()) hvp[k] += 2.0 * lambda * u[k];
  }
  return loss;
}

// The mixed product ∂/∂θ ⟨∇_w L, u⟩ in the order of MlpOptions: for λ, ∂/∂λ ⟨2λw, u⟩ = 2wu
// (summed over parameters for one λ); for the training inputs, R{∇_x L} of the batch's rows
// (input_r, rows × dim) at those rows' places, zero elsewhere.
void MixedProducts(const MlpOptions& options, std::span<const double> w,
                   std::span<const double> u, const Batch& batch, std::size_t dim,
                   const std::vector<double>& input_r, std::span<double> mixed) {
  const auto& l2 = options.l2;
  const std::size_t n = w.size();
  std::fill(mixed.begin(), mixed.end(), 0.0);
  std::size_t offset = 0;
  if (options.hyper_l2) {
    if (l2.size() == 1) {
      for (std::size_t k = 0; k < n; ++k) mixed[0] += 2.0 * w[k] * u[k];
    } else {
      for (std::size_t k = 0; k < n; ++k) mixed[k] = 2.0 * w[k] * u[k];
    }
    offset = l2.size();
  }
  if (options.hyper_inputs) {
    for (std::size_t j = 0; j < batch.rows.size(); ++j) {
      double* row = mixed.data() + offset + batch.rows[j] * dim;
      for (std::size_t d = 0; d < dim; ++d) row[d] += input_r[j * dim + d];
    }
  }
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
  // Rows not in place: their targets are gathered here; their inputs, on one thread, once by the
  // pass (Pass::gather). On several, each piece converts the inputs it reads into its own scratch
  // (Pass::source), twice a pass (the rows' pieces and the weight gradients' input columns): a
  // batch gathered into one buffer that both threads write and read moved its cache lines
  // between the cores every pass, and the conversion took 3x its one-thread CPU time (perf,
  // hypergrad T = 300 on two threads). Either way each input is converted alone, so the bits
  // are the same.
  const bool gather_once = options_.threads <= 1;
  Doubles x, t;  // written whole before they are read
  if (!contiguous) {
    for (const std::size_t r : batch.rows) {
      if (r >= data_->rows) {
        throw std::out_of_range("Mlp: batch row " + std::to_string(r) + " of a data set with " +
                                std::to_string(data_->rows) + " rows");
      }
    }
    if (gather_once) x.resize(rows * dim);
    t.resize(rows * classes);
    for (std::size_t j = 0; j < rows; ++j) {
      std::copy_n(data_->targets.begin() + static_cast<std::ptrdiff_t>(batch.rows[j] * classes),
                  classes, t.begin() + static_cast<std::ptrdiff_t>(j * classes));
    }
  }
  const bool want_input_r = !u.empty() && !mixed.empty() && options_.hyper_inputs;
  std::vector<double> input_r(want_input_r ? rows * dim : 0);
  Pass pass;
  pass.x = contiguous ? data_->inputs.data() + first * dim : x.data();
  pass.t = contiguous ? data_->targets.data() + first * classes : t.data();
  if (!contiguous && gather_once) {
    pass.gather = data_.get();
    pass.gather_rows = batch.rows.data();
    pass.x_gathered = x.data();
  } else if (!contiguous) {
    pass.x = nullptr;
    pass.source = data_.get();
    pass.source_rows = batch.rows.data();
  }
  pass.rows = rows;
  pass.w = w;
  pass.u = u;
  pass.grad = grad;
  pass.hvp = hvp;
  pass.input_r_grad = want_input_r ? input_r.data() : nullptr;
  const double nll = Run(layout_, pass, options_.threads, options_.tanh);
  const double loss = AddL2Penalty(options_.l2, w, u, nll, grad, hvp);
  if (!u.empty() && !mixed.empty()) MixedProducts(options_, w, u, batch, dim, input_r, mixed);
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
    tool.objective_text =
        "mean cross-entropy (negative log-likelihood) of the MLP's softmax outputs over all " +
        std::to_string(data->rows) + " training rows at w_T, no L2 penalty";
    return tool;
  };
  return info;
}

}  // namespace hypergrad
