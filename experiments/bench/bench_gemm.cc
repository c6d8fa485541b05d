// The matrix products of the Fig-2 network (784-50-50-50-10, batch 200; fig2_network.h) through
// Gemm (gemm.h) with each kernel, one thread: OpenBLAS (the CPU-dependent default) against the
// portable kernel (the same bits on every x86-64 CPU), issue [Q]. The products of one training
// step (the gradient) and of one reverse step (gradient and Hessian-vector product) are recorded
// by shape (gemm_trace.h) and issued on fixed random operands.
//   BM_Step: one kernel, one step's products per iteration.
//   BM_StepRatio (each portable variant), BM_ShapeRatio (the widest and AVX2): both kernels timed alternately in the same iteration (the
//     fastest of `kPairs` alternating pairs each), counter portable_over_openblas: the ratio of
//     neighbouring measurements, less exposed to a busy machine than two separate runs.
// Counters name the OpenBLAS core and the portable variant the run used.
//
//   bench_gemm --benchmark_format=json --benchmark_out=results/bench/bench_gemm.json
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "bench_context.h"
#include "runtime/blas_threads.h"
#include "fig2_network.h"
#include "models/gemm.h"
#include "models/gemm_portable.h"
#include "models/gemm_trace.h"

namespace hypergrad {
namespace {

constexpr int kPairs = 20;

struct Steps {
  std::vector<GemmShape> training, reverse, distinct;
};

const Steps& Recorded() {
  static const Steps steps = [] {
    const bench::Fig2Network p(1000);
    const Batch batch = p.Setup(1, 0.9).batches(0);
    const std::size_t n = p.w0().size();
    std::vector<double> g(n), hv(n), u(n, 1e-3);
    Steps s;
    { GemmTrace trace; p.model().Gradient(p.w0(), batch, g); s.training = trace.shapes(); }
    { GemmTrace trace; p.model().GradientAndHvp(p.w0(), batch, u, g, hv, {}); s.reverse = trace.shapes(); }
    std::map<std::tuple<std::size_t, std::size_t, std::size_t, bool, bool, bool>, GemmShape> seen;
    for (const auto* list : {&s.training, &s.reverse})
      for (const GemmShape& x : *list)
        seen.try_emplace({x.m, x.k, x.n, x.transpose_a, x.transpose_b, x.accumulate}, x);
    for (const auto& [key, shape] : seen) s.distinct.push_back(shape);
    return s;
  }();
  return steps;
}

// Random operands for each product of a list, stored densely (stride = columns).
class Operands {
 public:
  explicit Operands(const std::vector<GemmShape>& shapes) : shapes_(shapes) {
    std::mt19937_64 rng(3);
    std::normal_distribution<double> normal;
    for (const GemmShape& s : shapes) {
      std::vector<double> a(s.m * s.k), b(s.k * s.n), c(s.m * s.n);
      for (double& x : a) x = normal(rng);
      for (double& x : b) x = normal(rng);
      a_.push_back(std::move(a)); b_.push_back(std::move(b)); c_.push_back(std::move(c));
    }
  }
  // Issues every product once with `kernel`.
  void Issue(GemmKernel kernel) {
    SetGemmKernel(kernel);
    for (std::size_t i = 0; i < shapes_.size(); ++i) {
      const GemmShape& s = shapes_[i];
      const ConstMatrixRef a = s.transpose_a ? ConstMatrixRef{a_[i].data(), s.k, s.m, s.m}
                                             : ConstMatrixRef{a_[i].data(), s.m, s.k, s.k};
      const ConstMatrixRef b = s.transpose_b ? ConstMatrixRef{b_[i].data(), s.n, s.k, s.k}
                                             : ConstMatrixRef{b_[i].data(), s.k, s.n, s.n};
      Gemm(a, s.transpose_a, b, s.transpose_b, {c_[i].data(), s.m, s.n, s.n}, s.accumulate ? 1.0 : 0.0);
    }
    benchmark::ClobberMemory();
    SetGemmKernel(GemmKernel::kOpenBlas);
  }
  double Seconds(GemmKernel kernel, int repeats) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < repeats; ++r) Issue(kernel);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / repeats;
  }

 private:
  std::vector<GemmShape> shapes_;
  std::vector<std::vector<double>> a_, b_, c_;
};

void Describe(benchmark::State& state, const std::vector<GemmShape>& shapes) {
  double flops = 0;
  for (const GemmShape& s : shapes) flops += s.Flops();
  state.counters["products"] = static_cast<double>(shapes.size());
  state.counters["flops"] = flops;
  state.SetLabel("openblas_core=" + DescribeBlas().core + " portable_variant=" +
                 PortableGemmVariantName(ActivePortableGemmVariant()));
}

const std::vector<GemmShape>& StepShapes(int which) {
  return which == 0 ? Recorded().training : Recorded().reverse;
}

// range(0): 0 training step, 1 reverse step; range(1): 0 OpenBLAS, 1 portable.
void BM_Step(benchmark::State& state) {
  const std::vector<GemmShape>& shapes = StepShapes(static_cast<int>(state.range(0)));
  const GemmKernel kernel = state.range(1) == 0 ? GemmKernel::kOpenBlas : GemmKernel::kPortable;
  Operands ops(shapes);
  for (auto _ : state) ops.Issue(kernel);
  Describe(state, shapes);
  state.counters["flops_per_second"] =
      benchmark::Counter(state.counters["flops"], benchmark::Counter::kIsIterationInvariantRate);
}

// Both kernels on the same operands, alternately; the ratio of the fastest of each.
void TimeBoth(benchmark::State& state, const std::vector<GemmShape>& shapes) {
  Operands ops(shapes);
  double flops = 0;
  for (const GemmShape& s : shapes) flops += s.Flops();
  const int repeats = std::max(1, static_cast<int>(2e7 / std::max(flops, 1.0)));  // ~10 ms a side
  double openblas = 1e300, portable = 1e300;
  for (auto _ : state) {
    for (int pair = 0; pair < kPairs; ++pair) {
      openblas = std::min(openblas, ops.Seconds(GemmKernel::kOpenBlas, repeats));
      portable = std::min(portable, ops.Seconds(GemmKernel::kPortable, repeats));
    }
  }
  Describe(state, shapes);
  state.counters["seconds_openblas"] = openblas;
  state.counters["seconds_portable"] = portable;
  state.counters["portable_over_openblas"] = portable / openblas;
}

// Forces the portable variant range(1) (PortableGemmVariant: 0 the CPU's widest, 2 SSE2, 3 AVX2,
// 4 AVX-512) for the benchmark's time; false (and the benchmark skipped) if the CPU lacks it.
// AVX2 is what most x86-64 machines run; SSE2 the baseline every one has.
bool ForceVariant(benchmark::State& state) {
  const auto variant = static_cast<PortableGemmVariant>(state.range(1));
  if (!PortableGemmVariantSupported(variant)) {
    state.SkipWithError((std::string("this CPU lacks ") + PortableGemmVariantName(variant)).c_str());
    for (auto _ : state) {}
    return false;
  }
  ForcePortableGemmVariant(variant);
  return true;
}

// range(0): 0 training step, 1 reverse step; range(1): the portable variant (ForceVariant).
void BM_StepRatio(benchmark::State& state) {
  if (!ForceVariant(state)) return;
  TimeBoth(state, StepShapes(static_cast<int>(state.range(0))));
  ForcePortableGemmVariant(PortableGemmVariant::kAuto);
}

// range(0): index into the distinct shapes of both steps; range(1): the portable variant.
void BM_ShapeRatio(benchmark::State& state) {
  const GemmShape s = Recorded().distinct.at(static_cast<std::size_t>(state.range(0)));
  if (!ForceVariant(state)) return;
  TimeBoth(state, {s});
  ForcePortableGemmVariant(PortableGemmVariant::kAuto);
  state.counters["m"] = static_cast<double>(s.m);
  state.counters["k"] = static_cast<double>(s.k);
  state.counters["n"] = static_cast<double>(s.n);
  state.counters["transpose_a"] = s.transpose_a;
  state.counters["transpose_b"] = s.transpose_b;
}

void ShapeArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"shape", "variant"});
  for (std::size_t i = 0; i < Recorded().distinct.size(); ++i)
    for (long variant : {0, 3}) b->Args({static_cast<long>(i), variant});
}

BENCHMARK(BM_Step)->ArgNames({"step", "kernel"})->ArgsProduct({{0, 1}, {0, 1}})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_StepRatio)->ArgNames({"step", "variant"})->ArgsProduct({{0, 1}, {0, 2, 3, 4}})->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ShapeRatio)->Apply(ShapeArgs)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace hypergrad

int main(int argc, char** argv) {
  hypergrad::SetBlasThreads(1);
  hypergrad::bench::RecordArithmeticContext();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
