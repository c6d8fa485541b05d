// The matrix products of the Fig-2 network (784-50-50-50-10, batch 200; fig2_network.h) through
// Gemm (gemm.h) with each kernel, one thread: OpenBLAS (the CPU-dependent default) against the
// portable kernel (the same bits on every x86-64 CPU), issue [Q]. The products of one training
// step (the gradient) and of one reverse step (gradient and Hessian-vector product) are recorded
// by shape (gemm_trace.h) and issued on fixed random operands.
//   BM_Step: one kernel, one step's products per iteration.
//   BM_WiderProducts: a reverse step's products that share an operand, two narrow or one wide
//     (and GemmPair, as the MLP issues one of the three kinds).
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
    Steps s{p.TrainingStepProducts(), p.ReverseStepProducts(), {}};
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
  // Products 2j and 2j + 1 (the same shape, B not transposed, C stored) as one GemmPair on the
  // portable kernel, as mlp.cc issues them: product 2j's A shared, each half's B and C where
  // they lie. The seconds per issue of all of them.
  double PairSeconds(int repeats) {
    SetGemmKernel(GemmKernel::kPortable);
    const auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < repeats; ++r) {
      for (std::size_t i = 0; i + 1 < shapes_.size(); i += 2) {
        const GemmShape& s = shapes_[i];
        const ConstMatrixRef a = s.transpose_a ? ConstMatrixRef{a_[i].data(), s.k, s.m, s.m}
                                               : ConstMatrixRef{a_[i].data(), s.m, s.k, s.k};
        GemmPair(a, s.transpose_a, {b_[i].data(), s.k, s.n, s.n}, {c_[i].data(), s.m, s.n, s.n}, 0.0,
                 {b_[i + 1].data(), s.k, s.n, s.n}, {c_[i + 1].data(), s.m, s.n, s.n}, 0.0);
      }
      benchmark::ClobberMemory();
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / repeats;
    SetGemmKernel(GemmKernel::kOpenBlas);
    return seconds;
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

// Issue [Q] item 2: products of a reverse step that share an operand, issued as two products or
// as one twice as wide, on the portable kernel (one product per pair gives each element the same
// in-order sum, so the same bits). Per layer (in, out) of the Fig-2 network, batch rows = 200:
// (a) a_i·W_i and a_i·U_i (forward and R-forward share a_i): one rows × in · in × 2out product;
// (b) a_iᵀ·delta_i and a_iᵀ·R{delta_i} (the gradient and the Hessian-vector product):
// in × rows · rows × 2out; (c) delta_i·W_iᵀ and R{delta_i}·W_iᵀ for i ≥ 1 (Backward and
// RBackward): 2rows × out · out × in. The wide product on dense operands, which would need its
// halves side by side in memory (copies timed apart: us_copies); and, for (a) and (b), GemmPair
// (halves where they lie, no copies; us_gemm_pair). mlp.cc issues (b) as a GemmPair; not (a),
// which made `hypergrad` slower (T = 500, one thread, 8 alternating runs: 1.024× the time with
// (b) alone; why was not measured), nor (c) (0.4% of a reverse step's products saved before
// copies). In the same run,
// the reverse step's products as issued now (with the pairs), alternately; counters: the times
// per step, the fused pairs' time over the separate pairs' time, and the savings as a share of
// the reverse step's product time. range(0): which pairs, a bit mask of (a) 1, (b) 2, (c) 4.
void BM_WiderProducts(benchmark::State& state) {
  const auto pairs = state.range(0);
  const std::size_t rows = 200;
  const std::vector<std::pair<std::size_t, std::size_t>> layers = {{784, 50}, {50, 50}, {50, 50}, {50, 10}};
  std::vector<GemmShape> separate, fused;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const auto [in, out] = layers[i];
    if (pairs & 1) {
      separate.insert(separate.end(), 2, GemmShape{rows, out, in, false, false, false});
      fused.push_back({rows, 2 * out, in, false, false, false});
    }
    if (pairs & 2) {
      separate.insert(separate.end(), 2, GemmShape{in, out, rows, true, false, false});
      fused.push_back({in, 2 * out, rows, true, false, false});
    }
    if ((pairs & 4) && i > 0) {
      separate.insert(separate.end(), 2, GemmShape{rows, in, out, false, true, false});
      fused.push_back({2 * rows, in, out, false, true, false});
    }
  }
  // The copies a fused product needs where its halves are stored apart: the doubled operand
  // (B of k × 2n, or A of 2m × k) put together from its halves, and C split into its halves
  // (0.0 + c, as a product with beta 0 writes it).
  std::vector<std::vector<double>> halves, whole;
  for (const GemmShape& x : fused) {
    const std::size_t operand = x.m == 2 * rows ? x.m * x.k : x.k * x.n, product = x.m * x.n;
    halves.emplace_back(operand + product, 1.0);
    whole.emplace_back(operand + product, 2.0);
  }
  const auto copies = [&](int times) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < times; ++r) {
      for (std::size_t f = 0; f < fused.size(); ++f) {
        const GemmShape& x = fused[f];
        const bool by_rows = x.m == 2 * rows;
        // By columns: B's rows are [left half | right half]; by rows: A's two halves follow each
        // other (a plain copy). C the other way round.
        const std::size_t operand = by_rows ? x.m * x.k : x.k * x.n, width = by_rows ? x.k : x.n;
        double* dst = whole[f].data();
        const double* src = halves[f].data();
        if (by_rows) {
          std::copy_n(src, operand, dst);
        } else {
          for (std::size_t i = 0; i < operand / width; ++i) {
            std::copy_n(src + i * (width / 2), width / 2, dst + i * width);
            std::copy_n(src + operand / 2 + i * (width / 2), width / 2, dst + i * width + width / 2);
          }
        }
        const std::size_t c = x.m * x.n;
        for (std::size_t i = 0; i < c; ++i) halves[f][operand + i] = 0.0 + whole[f][operand + i];
      }
      benchmark::ClobberMemory();
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / times;
  };
  Operands two(separate), one(fused), step(Recorded().reverse);
  double flops = 0;
  for (const GemmShape& x : separate) flops += x.Flops();
  const int repeats = std::max(1, static_cast<int>(2e7 / flops));
  const bool built = (pairs & 4) == 0;  // only (a) and (b): GemmPair timed too
  double t_two = 1e300, t_one = 1e300, t_step = 1e300, t_copies = 1e300, t_pair = 1e300;
  for (auto _ : state) {
    for (int pair = 0; pair < kPairs; ++pair) {
      t_copies = std::min(t_copies, copies(repeats));
      t_two = std::min(t_two, two.Seconds(GemmKernel::kPortable, repeats));
      t_one = std::min(t_one, one.Seconds(GemmKernel::kPortable, repeats));
      if (built) t_pair = std::min(t_pair, two.PairSeconds(repeats));
      t_step = std::min(t_step, step.Seconds(GemmKernel::kPortable, repeats));
    }
  }
  Describe(state, separate);
  state.counters["products_fused"] = static_cast<double>(fused.size());
  state.counters["us_separate"] = 1e6 * t_two;
  state.counters["us_fused"] = 1e6 * t_one;
  state.counters["us_reverse_step_products"] = 1e6 * t_step;
  state.counters["fused_over_separate"] = t_one / t_two;
  state.counters["saving_share_of_reverse_products"] = (t_two - t_one) / t_step;
  state.counters["us_copies"] = 1e6 * t_copies;
  state.counters["saving_with_copies_share"] = (t_two - t_one - t_copies) / t_step;
  if (built) {
    state.counters["us_gemm_pair"] = 1e6 * t_pair;
    state.counters["gemm_pair_over_separate"] = t_pair / t_two;
    state.counters["saving_gemm_pair_share"] = (t_two - t_pair) / t_step;
  }
}

void ShapeArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"shape", "variant"});
  for (std::size_t i = 0; i < Recorded().distinct.size(); ++i)
    for (long variant : {0, 3}) b->Args({static_cast<long>(i), variant});
}

BENCHMARK(BM_Step)->ArgNames({"step", "kernel"})->ArgsProduct({{0, 1}, {0, 1}})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_StepRatio)->ArgNames({"step", "variant"})->ArgsProduct({{0, 1}, {0, 2, 3, 4}})->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ShapeRatio)->Apply(ShapeArgs)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_WiderProducts)->ArgName("pairs")->Arg(1)->Arg(2)->Arg(3)->Arg(4)->Arg(7)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace hypergrad

int main(int argc, char** argv) {
  hypergrad::SetBlasThreads(1);
  return hypergrad::bench::RunBenchmarks(argc, argv);
}
