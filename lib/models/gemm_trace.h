// The matrix products a model issues, recorded by shape, and replayed alone. Benchmarks time the
// replay of one run's products as the cost floor of that run ("at the cost of its matrix
// products", issue [I]); nothing records unless a GemmTrace is alive on the calling thread.
#ifndef HYPERGRAD_MODELS_GEMM_TRACE_H_
#define HYPERGRAD_MODELS_GEMM_TRACE_H_

#include <cstddef>
#include <vector>

namespace hypergrad {

// C (m × n) = op(A) (m × k) · op(B) (k × n) [+ C].
struct GemmShape {
  std::size_t m = 0, n = 0, k = 0;
  bool transpose_a = false, transpose_b = false, accumulate = false;
  double Flops() const { return 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k); }
};

// While alive, collects every product issued on this thread (by the MLP's kernels, by whole
// shape: a product split over threads counts once). Not nested.
class GemmTrace {
 public:
  GemmTrace();
  ~GemmTrace();
  GemmTrace(const GemmTrace&) = delete;
  GemmTrace& operator=(const GemmTrace&) = delete;

  const std::vector<GemmShape>& shapes() const { return shapes_; }
  double Flops() const;

  // Called by the kernels: records `shape` if a trace is alive on this thread.
  static void Record(const GemmShape& shape);
  // Whether a trace is alive on this thread.
  static bool Active();

 private:
  std::vector<GemmShape> shapes_;
};

// Issues the products `shapes` `repeats` times on matrices of those shapes filled with fixed
// values, through Gemm with the kernel in use (gemm.h; portable by default), as the models
// issue them, and returns the seconds the products took: the matrices are made, filled and
// first touched before the clock starts (a full-set loss's operands are tens of megabytes,
// whose allocation and page faults are no product's cost). For timing only.
double ReplayGemms(const std::vector<GemmShape>& shapes, std::size_t repeats);

}  // namespace hypergrad

#endif  // HYPERGRAD_MODELS_GEMM_TRACE_H_
