// The hidden layers' tanh on one array of the Fig-2 network's shape (a batch of 200 rows × 50
// hidden units = 10,000 elements), one thread: glibc's scalar tanh called per element against
// our vectorised ports of glibc's tanh (both builds of its expm1, tanh_kernel.h) and the
// polynomial kernel. Every iteration copies the pre-activations into the array and applies the
// kernel in place (BM_CopyOnly times the copy alone); items/s counts elements.
//
//   bench_tanh --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <vector>

#include "random/random.h"
#include "models/tanh_kernel.h"

namespace hypergrad {
namespace {

constexpr std::size_t kBatch = 200, kHidden = 50;

// Pre-activations of the spread met in the network (N(0, 1)·2, so |x| < 1 and 1 ≤ |x| < 22,
// tanh's two expm1 paths, both occur often); fixed seed, the same array for every kernel.
const std::vector<double>& PreActivations() {
  static const std::vector<double> x = [] {
    RandomStream rng(7);
    std::vector<double> v(kBatch * kHidden);
    for (double& e : v) e = 2.0 * rng.Normal();
    return v;
  }();
  return x;
}

// range(0): 0 glibc's scalar tanh, 1 the port of glibc's FMA build, 2 the port of its SSE2
// build (compiled for the widest instruction set this CPU runs, BestVectorIsa), 3 the polynomial
// kernel, 4 and 5 the SSE2 build's port compiled for plain SSE2 and for SSE4.1.
void BM_Tanh(benchmark::State& state) {
  const std::vector<double>& x = PreActivations();
  std::vector<double> y(x.size());
  const int which = static_cast<int>(state.range(0));
  if (which == 1 && (!__builtin_cpu_supports("fma") || !__builtin_cpu_supports("avx2"))) {
    state.SkipWithError("the FMA build's port needs FMA and AVX2");
    return;
  }
  if (which == 5 && !__builtin_cpu_supports("sse4.1")) {
    state.SkipWithError("this CPU lacks SSE4.1");
    return;
  }
  for (auto _ : state) {
    std::copy(x.begin(), x.end(), y.begin());
    switch (which) {
      case 0: GlibcTanhInPlace(y, GlibcTanhVariant::kSystem); break;
      case 1: GlibcTanhInPlace(y, GlibcTanhVariant::kFma); break;
      case 2: GlibcTanhInPlace(y, GlibcTanhVariant::kSse2); break;
      case 3: TanhInPlace(y, TanhKernel::kPolynomial); break;
      case 4: GlibcTanhSse2BuildInPlace(y, VectorIsa::kSse2); break;
      default: GlibcTanhSse2BuildInPlace(y, VectorIsa::kSse41);
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * x.size()));
  const char* const labels[] = {"glibc scalar tanh",         "port, FMA build",
                                "port, SSE2 build (widest ISA)", "polynomial",
                                "port, SSE2 build, plain SSE2",  "port, SSE2 build, SSE4.1"};
  state.SetLabel(labels[which]);
}
BENCHMARK(BM_Tanh)->DenseRange(0, 5)->ArgName("kernel");

void BM_CopyOnly(benchmark::State& state) {
  const std::vector<double>& x = PreActivations();
  std::vector<double> y(x.size());
  for (auto _ : state) {
    std::copy(x.begin(), x.end(), y.begin());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * x.size()));
}
BENCHMARK(BM_CopyOnly);

}  // namespace
}  // namespace hypergrad

BENCHMARK_MAIN();
