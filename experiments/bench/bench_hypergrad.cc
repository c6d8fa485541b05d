// Memory and time of hypergradients on the Fig-2 network (784-50-50-50-10, batch 200, α = e^-1,
// γ = 0.9; generated inputs of MNIST's shape, so no download), T ∈ {100, 1000} (and 10000 with BENCH_FULL=1), for
// every way of revisiting the forward pass newest first:
//   naive-float (no memory, not exact: the measured-memory baseline), reversible with the exact
//   and with the fast buffer, store-all, √T checkpointing, and Revolve (binomial checkpointing,
//   ADOL-C's schedule) with s ∈ {2, 5, 10, 20} snapshots.
// Counters per run: wall time split into forward and reverse, gradient and HVP evaluations,
// recomputed steps, peak memory beyond the model computed by the method and measured on the
// heap (peak live bytes minus the naive-float run's peak at the same T), the states-only memory
// of the same method in float64, and whether the hypergradients equal the stored trajectory's
// bit for bit (they must: a mismatch is reported as an error). Revolve runs needing more than
// 10·T forward steps (30·T with BENCH_FULL=1) are left out; their counts follow from t(T, s).
//
// BM_AdamHypergradient: the same for reversible Adam (both buffers), against its stored
// trajectory.
//
//   bench_hypergrad --benchmark_format=json --benchmark_out=results/bench/bench_hypergrad.json
#include <benchmark/benchmark.h>

#include "bench_context.h"
#include "runtime/blas_threads.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>

#include "bench_size.h"
#include "models/gemm_trace.h"
#include "fig2_network.h"
#include "heap_meter.h"
#include "optimizers/reversible_adam.h"
#include "trajectories/revolve_schedule.h"
#include "runtime/parallel.h"
#include "runtime/step_profile.h"

namespace hypergrad {
namespace {

using bench::FullSize;
using bench::HeapMeter;

// The momentum decay of the headline numbers (0.152 bits per parameter per step).
constexpr double kGamma = 0.9;

const bench::Fig2Network& Problem() {
  static const bench::Fig2Network network(10000);
  return network;
}

struct Method {
  ReversalMethod method;
  BufferKind buffer = BufferKind::kFast;
  std::size_t snapshots = 0;  // Revolve

  std::string Name() const {
    std::string name = "method:" + std::string(ReversalMethodName(method)) +
                       "/buffer:" + std::string(BufferKindName(buffer));
    if (method == ReversalMethod::kRevolve) name += "/snapshots:" + std::to_string(snapshots);
    return name;
  }
};

template <class H>
struct RunResultOf {
  H h;
  double seconds_forward = 0.0, seconds_reverse = 0.0;
  std::size_t recomputed = 0, computed_peak_bytes = 0, measured_peak_bytes = 0;
  double info_bits = 0.0;
};
using RunResult = RunResultOf<Hypergradients>;

double Since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// One training run of `Trainer` (ReversibleSgd or ReversibleAdam) from `start` and its reverse
// pass; the meta-objective's gradient is neither timed nor measured (it is the same for every
// method).
// u0: the moments (K·P values; m_0 = s_0 = 0 for Adam).
template <class Trainer, class Setup>
RunResult TimedRun(Setup setup, const Method& m, std::span<const double> u0) {
  const bench::Fig2Network& p = Problem();
  RunResult r;
  HeapMeter::ResetPeak();
  const std::size_t base = HeapMeter::Current();
  TrainingOptions options{.method = m.method, .buffer = m.buffer};
  options.revolve_snapshots = m.snapshots;
  Trainer trainer(std::move(setup), options);
  const Objective loss{[&](std::span<const double> w, std::span<double> d_w, std::span<double>) {
    return p.model().Evaluate(w, p.model().data(), d_w).nll;
  }};
  RunOutcome outcome = TrainAndReverse(trainer, p.w0(), u0, loss, {.copy_state = false});
  r.seconds_forward = outcome.seconds_forward;
  r.info_bits = outcome.information_bits;
  r.h = std::move(outcome.hypergradients);
  r.seconds_reverse = outcome.seconds_reverse;
  r.measured_peak_bytes = HeapMeter::Peak() - base;
  r.recomputed = trainer.recomputed_steps();
  r.computed_peak_bytes = trainer.peak_extra_bytes();
  return r;
}

RunResult Run(std::size_t iters, const Method& m) {
  const bench::Fig2Network& p = Problem();
  return TimedRun<ReversibleSgd>(p.Setup(iters, kGamma), m, p.v0());
}

// Per T and buffer: the stored trajectory's hypergradients (the reference every method must
// equal; the buffer kind decides the fixed-point trajectory) and the naive-float run's heap peak
// (the memory any method needs without reversal storage).
struct Reference {
  Hypergradients stored;
  std::size_t baseline_peak_bytes = 0;
};

std::map<std::pair<std::size_t, BufferKind>, Reference>& References() {
  static std::map<std::pair<std::size_t, BufferKind>, Reference> references;
  return references;
}

void Remember(std::size_t iters, const Method& m, const RunResult& r) {
  Reference& ref = References()[{iters, m.buffer}];
  if (m.method == ReversalMethod::kStoredTrajectory) ref.stored = r.h;
  if (m.method == ReversalMethod::kNaiveFloat) {
    for (BufferKind b : {BufferKind::kExact, BufferKind::kFast}) {
      References()[{iters, b}].baseline_peak_bytes = r.measured_peak_bytes;
    }
  }
}

// Runs (untimed) whatever reference a filtered run has not produced yet.
const Reference& ReferenceFor(std::size_t iters, BufferKind buffer) {
  Reference& ref = References()[{iters, buffer}];
  if (ref.stored.d_w0.empty()) {
    ref.stored = Run(iters, {ReversalMethod::kStoredTrajectory, buffer}).h;
  }
  if (ref.baseline_peak_bytes == 0) {
    ref.baseline_peak_bytes = Run(iters, {ReversalMethod::kNaiveFloat}).measured_peak_bytes;
  }
  return ref;
}

bool SameHypergradients(const Hypergradients& a, const Hypergradients& b) {
  return BitwiseEqual(a, b);
}

// Memory the same method would hold in a float64 implementation: (w, v) states only.
double StatesOnlyBytes(std::size_t iters, const Method& m, std::size_t computed_bytes) {
  const double state = 2.0 * 8.0 * static_cast<double>(Problem().w0().size());
  const double t = static_cast<double>(iters);
  switch (m.method) {
    case ReversalMethod::kStoredTrajectory: return t * state;
    case ReversalMethod::kCheckpointed: {
      const double k = std::ceil(std::sqrt(t));
      return (std::ceil(t / k) + k) * state;
    }
    case ReversalMethod::kRevolve:
      return static_cast<double>(std::min(m.snapshots, iters) + 1) * state;
    case ReversalMethod::kReversible: return static_cast<double>(computed_bytes);
    case ReversalMethod::kNaiveFloat: return 0.0;
  }
  return 0.0;
}

void BM_Forward(benchmark::State& state) {
  const auto iters = static_cast<std::size_t>(state.range(0));
  Problem();  // build the data outside the timed loop
  for (auto _ : state) {
    ReversibleSgd sgd(Problem().Setup(iters, kGamma), {.buffer = BufferKind::kFast});
    sgd.Train(Problem().w0(), Problem().v0());
    benchmark::DoNotOptimize(sgd.weights().data());
  }
  state.counters["iters"] = static_cast<double>(iters);
  state.counters["gradients"] = static_cast<double>(iters);
}

// Counters share_<phase>_<piece> (fractions of the phase's time; <piece> as StepPieceName, and
// rest: everything else) and ms_per_<phase>_step, phase training or reverse, from one run of T
// steps (reversible, fast buffer, one thread) with StepPieceTimer recording.
void StepShares(benchmark::State& state, const bench::Fig2Network& p, std::size_t iters) {
  ReversibleSgd sgd(p.Setup(iters, kGamma), {.buffer = BufferKind::kFast});
  std::vector<double> d_w(p.w0().size());
  RecordStepPieces(true);
  auto t0 = std::chrono::steady_clock::now();
  sgd.Train(p.w0(), p.v0());
  const double train = Since(t0);
  const std::array<double, kStepPieces> after_training = StepPieceSeconds();
  p.model().Evaluate(sgd.weights(), p.model().data(), d_w);
  const std::array<double, kStepPieces> after_loss = StepPieceSeconds();
  t0 = std::chrono::steady_clock::now();
  sgd.Reverse(d_w);
  const double reverse = Since(t0);
  const std::array<double, kStepPieces> after_reverse = StepPieceSeconds();
  RecordStepPieces(false);
  const auto record = [&](const char* phase, double seconds, const std::array<double, kStepPieces>& from,
                          const std::array<double, kStepPieces>& to) {
    double pieces = 0;
    for (int k = 0; k < kStepPieces; ++k) {
      const double share = (to[k] - from[k]) / seconds;
      pieces += share;
      state.counters[std::string("share_") + phase + "_" + StepPieceName(static_cast<StepPiece>(k))] = share;
    }
    state.counters[std::string("share_") + phase + "_rest"] = 1.0 - pieces;
    state.counters[std::string("ms_per_") + phase + "_step"] = 1e3 * seconds / static_cast<double>(iters);
  };
  record("training", train, {}, after_training);
  record("reverse", reverse, after_loss, after_reverse);
}

// Our run against its own matrix products timed alone (issue [I]'s reference): the products of
// one training step, one reverse step and the final full-data loss are recorded by shape
// (gemm_trace.h) and replayed T times on fixed operands; in the same run, training alone and
// training + final loss + reverse pass (reversible, fast buffer) are timed, three rounds of
// both. Counters: both times (from the fastest run), both products-only times (from the fastest
// replay), their ratios (and each round's hypergradient ratio: median, min, max), FLOPs per
// step as issued, peak RSS, threads; once with glibc's tanh and once with the polynomial kernel
// (tanh_kernel.h).
void BM_MatrixProductFloor(benchmark::State& state) {
  const auto iters = static_cast<std::size_t>(state.range(0));
  const auto tanh = state.range(1) == 0 ? TanhKernel::kLibm : TanhKernel::kPolynomial;
  const auto layout = state.range(2) == 0 ? bench::Fig2Data::kRandomDoubles : bench::Fig2Data::kToolLayout;
  static std::map<std::pair<TanhKernel, bench::Fig2Data>, std::unique_ptr<bench::Fig2Network>> networks;
  auto& made = networks[{tanh, layout}];
  if (!made && tanh == TanhKernel::kLibm && layout == bench::Fig2Data::kRandomDoubles) {
    made = std::make_unique<bench::Fig2Network>(Problem());
  } else if (!made) {
    made = std::make_unique<bench::Fig2Network>(10000, 1, tanh, layout);
  }
  const bench::Fig2Network& p = *made;
  const std::size_t n = p.w0().size();
  const std::vector<GemmShape> step = p.TrainingStepProducts(), reverse_step = p.ReverseStepProducts();
  std::vector<GemmShape> final_loss;
  {
    std::vector<double> g(n);
    GemmTrace trace;
    p.model().Evaluate(p.w0(), p.model().data(), g);
    final_loss = trace.shapes();
  }
  // Three rounds, each our run and then its products replayed: single runs on this VM vary by
  // ±5-10% (the products alone too), so the ratio is of the fastest run to the fastest replay,
  // as the tool is compared with PyTorch (speed_vs_torch.py); each round's own ratio is kept
  // too (their median and range). The run's pieces (training, final loss, reverse) are those of
  // its fastest round, the replay's pieces those of the fastest replay, so each set adds up.
  constexpr int kRounds = 3;
  double train = 0, final_loss_seconds = 0, hyper = 0, gemm_train = 0, gemm_hyper = 0, gemm_reverse = 0;
  std::vector<double> paired;
  for (auto _ : state) {
    for (int round = 0; round < kRounds; ++round) {
      auto t0 = std::chrono::steady_clock::now();
      ReversibleSgd sgd(p.Setup(iters, kGamma), {.buffer = BufferKind::kFast});
      sgd.Train(p.w0(), p.v0());
      const double round_train = Since(t0);
      std::vector<double> d_w(n);
      p.model().Evaluate(sgd.weights(), p.model().data(), d_w);
      const double round_loss = Since(t0) - round_train;
      const Hypergradients h = sgd.Reverse(d_w);
      const double round_hyper = Since(t0);
      if (!h.reversal.exact) state.SkipWithError("reverse pass not exact");
      const double round_gemm_train = ReplayGemms(step, iters);  // operands made before the clock
      const double round_gemm_reverse = ReplayGemms(reverse_step, iters);
      const double round_gemm_hyper = round_gemm_train + ReplayGemms(final_loss, 1) + round_gemm_reverse;
      paired.push_back(round_hyper / round_gemm_hyper);
      if (round == 0 || round_hyper < hyper) {
        hyper = round_hyper;
        train = round_train;
        final_loss_seconds = round_loss;
      }
      if (round == 0 || round_gemm_hyper < gemm_hyper) {
        gemm_hyper = round_gemm_hyper;
        gemm_train = round_gemm_train;
        gemm_reverse = round_gemm_reverse;
      }
    }
    state.SetIterationTime(hyper);
  }
  std::sort(paired.begin(), paired.end());
  // Each piece's share of a training and of a reverse step: the same run once more, its pieces
  // timed (step_profile.h; the timers cost well under 1% here), outside the timed iterations.
  StepShares(state, p, iters);
  const auto flops = [](const std::vector<GemmShape>& shapes) {
    double f = 0;
    for (const GemmShape& s : shapes) f += s.Flops();
    return f;
  };
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  state.counters["iters"] = static_cast<double>(iters);
  state.counters["threads"] = 1;
  state.counters["polynomial_tanh"] = tanh == TanhKernel::kPolynomial ? 1.0 : 0.0;
  state.counters["tool_layout"] = layout == bench::Fig2Data::kToolLayout ? 1.0 : 0.0;
  state.counters["seconds_training"] = train;
  state.counters["seconds_hypergradient"] = hyper;
  state.counters["seconds_final_loss"] = final_loss_seconds;
  state.counters["seconds_reverse"] = hyper - train - final_loss_seconds;
  state.counters["gemm_seconds_training"] = gemm_train;
  state.counters["gemm_seconds_hypergradient"] = gemm_hyper;
  state.counters["training_over_gemm"] = train / gemm_train;
  state.counters["ms_gemm_per_training_step"] = 1e3 * gemm_train / static_cast<double>(iters);
  state.counters["ms_gemm_per_reverse_step"] = 1e3 * gemm_reverse / static_cast<double>(iters);
  state.counters["hypergradient_over_gemm"] = hyper / gemm_hyper;
  state.counters["rounds"] = kRounds;
  state.counters["hypergradient_over_gemm_paired_median"] = paired[paired.size() / 2];
  state.counters["hypergradient_over_gemm_paired_min"] = paired.front();
  state.counters["hypergradient_over_gemm_paired_max"] = paired.back();
  state.counters["gemms_per_training_step"] = static_cast<double>(step.size());
  state.counters["gemms_per_reverse_step"] = static_cast<double>(reverse_step.size());
  state.counters["flops_per_training_step"] = flops(step);
  state.counters["flops_per_reverse_step"] = flops(reverse_step);
  state.counters["flops_final_loss"] = flops(final_loss);
  state.counters["peak_rss_bytes"] = static_cast<double>(usage.ru_maxrss) * 1024.0;  // process so far
}

// One run (training + final loss + reverse pass, reversible, fast buffer) on 1 thread and on N,
// timed in the same benchmark run so that the speed-up is a ratio of neighbouring measurements
// (the fastest of three alternating pairs); the N-thread hypergradients must equal the 1-thread
// ones bit for bit in every pair (issue [I] goal 2).
void BM_Threads(benchmark::State& state) {
  const auto iters = static_cast<std::size_t>(state.range(0));
  const auto threads = static_cast<unsigned>(state.range(1));
  static const bench::Fig2Network one(10000, 1);
  static std::map<unsigned, std::unique_ptr<bench::Fig2Network>> many;
  auto& p = many[threads];
  if (!p) p = std::make_unique<bench::Fig2Network>(10000, threads);
  const auto run = [&](const bench::Fig2Network& network, unsigned t, double& seconds) {
    const auto t0 = std::chrono::steady_clock::now();
    ReversibleSgd sgd(network.Setup(iters, kGamma), {.buffer = BufferKind::kFast, .threads = t});
    sgd.Train(network.w0(), network.v0());
    std::vector<double> d_w(network.w0().size());
    network.model().Evaluate(sgd.weights(), network.model().data(), d_w);
    Hypergradients h = sgd.Reverse(d_w);
    seconds = Since(t0);
    return h;
  };
  // Three alternating pairs, the fastest of each kind: this machine's neighbours make single
  // timings vary by ±10%.
  constexpr int kRepeats = 3;
  double seconds_one = 1e300, seconds_many = 1e300;
  bool bitwise = true;
  for (auto _ : state) {
    for (int r = 0; r < kRepeats; ++r) {
      double s1 = 0, sn = 0;
      const Hypergradients h1 = run(one, 1, s1);
      const Hypergradients hn = run(*p, threads, sn);
      bitwise = bitwise && SameHypergradients(h1, hn) && hn.reversal.exact;
      seconds_one = std::min(seconds_one, s1);
      seconds_many = std::min(seconds_many, sn);
    }
    state.SetIterationTime(seconds_many);
  }
  if (!bitwise) state.SkipWithError("hypergradients on several threads differ from one thread's");
  state.counters["iters"] = static_cast<double>(iters);
  state.counters["threads"] = threads;
  // The CPUs this process may run on (its affinity mask), and the threads a loop uses: no more
  // than those CPUs (parallel.h).
  state.counters["cores"] = static_cast<double>(UsableCpus());
  state.counters["threads_used"] = static_cast<double>(std::min(threads, UsableCpus()));
  state.counters["seconds_one_thread"] = seconds_one;
  state.counters["seconds_threads"] = seconds_many;
  state.counters["speedup"] = seconds_one / seconds_many;
  state.counters["bitwise_equal_to_one_thread"] = bitwise ? 1.0 : 0.0;
}

// What two cores cost each other, the limits of BM_Threads and of issue [Q]'s two-thread
// target, on the first two CPUs the process may run on (skipped with fewer): a cache line's
// round trip between them (one atomic passed back and forth); reading 512 KB (in either core's
// own 1 MB-class L2) that the other core has just written against reading it after writing it
// oneself (8 independent sums, so reading is the limit); and one reverse step's products
// (gemm_trace.h, replayed on fixed operands) on each core alone (virtual CPUs need not be equally
// fast) against on both at once, each timing its own; and 50 training steps with their reversal
// (reversible, fast buffer) on each core alone, per step (training and reverse). Best of several
// repeats each; the calling thread's CPU mask is restored.
// The sum of x[0 … n) (n a multiple of 8) in 8 independent sums, in the CPU's widest vectors:
// a read limited by where the data come from, not by the additions.
[[gnu::target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")]] double SumOfEights(
    const double* x, std::size_t n) {
  double sums[8] = {};
  for (std::size_t i = 0; i < n; i += 8)
    for (int j = 0; j < 8; ++j) sums[j] += x[i + j];
  double total = 0;
  for (const double v : sums) total += v;
  return total;
}

void BM_CrossCore(benchmark::State& state) {
  cpu_set_t original;
  CPU_ZERO(&original);
  sched_getaffinity(0, sizeof original, &original);
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE && cpus.size() < 2; ++c) {
    if (CPU_ISSET(c, &original)) cpus.push_back(c);
  }
  if (cpus.size() < 2) {
    state.SkipWithError("needs two CPUs");
    for (auto _ : state) {}
    return;
  }
  const auto pin = [](int cpu) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    pthread_setaffinity_np(pthread_self(), sizeof one, &one);
  };
  const std::vector<GemmShape> reverse_step = Problem().ReverseStepProducts();
  double round_trip = 1e300, remote = 1e300, local = 1e300, alone = 1e300, alone_b = 1e300, together = 1e300,
         together_b = 1e300;
  double run_seconds[2] = {1e300, 1e300};
  for (auto _ : state) {
    pin(cpus[0]);
    {  // round trip: this thread writes 2i+1, the other answers 2i+2
      alignas(64) std::atomic<std::int64_t> flag{0};
      constexpr std::int64_t kTrips = 100000;
      for (int r = 0; r < 3; ++r) {
        flag = 0;
        std::thread other([&] {
          pin(cpus[1]);
          for (std::int64_t i = 0; i < kTrips; ++i) {
            while (flag.load(std::memory_order_acquire) != 2 * i + 1) {}
            flag.store(2 * i + 2, std::memory_order_release);
          }
        });
        const auto t0 = std::chrono::steady_clock::now();
        for (std::int64_t i = 0; i < kTrips; ++i) {
          flag.store(2 * i + 1, std::memory_order_release);
          while (flag.load(std::memory_order_acquire) != 2 * i + 2) {}
        }
        round_trip = std::min(round_trip, Since(t0) / kTrips);
        other.join();
      }
    }
    {  // reads of 512 KB written by the other core, and by this one
      std::vector<double> data(65536, 1.0);
      const auto read = [&] { benchmark::DoNotOptimize(SumOfEights(data.data(), data.size())); };
      for (int r = 0; r < 9; ++r) {
        std::thread([&] {
          pin(cpus[1]);
          for (double& x : data) x += 1.0;
        }).join();
        auto t0 = std::chrono::steady_clock::now();
        read();
        remote = std::min(remote, Since(t0));
        for (double& x : data) x += 1.0;
        t0 = std::chrono::steady_clock::now();
        read();
        local = std::min(local, Since(t0));
      }
    }
    {  // one reverse step's products, 50 times: alone on each core, then on both at once
      constexpr std::size_t kSteps = 50;
      for (int r = 0; r < 3; ++r) {
        pin(cpus[1]);
        alone_b = std::min(alone_b, ReplayGemms(reverse_step, kSteps));
        pin(cpus[0]);
        alone = std::min(alone, ReplayGemms(reverse_step, kSteps));
        double other_seconds = 0;
        std::thread other([&] {
          pin(cpus[1]);
          other_seconds = ReplayGemms(reverse_step, kSteps);
        });
        const double mine = ReplayGemms(reverse_step, kSteps);
        other.join();
        together = std::min(together, mine);
        together_b = std::min(together_b, other_seconds);
      }
    }
    {  // 50 training steps and their reversal (reversible, fast buffer, one thread) on each core
      for (int r = 0; r < 3; ++r) {
        for (int which = 0; which < 2; ++which) {
          pin(cpus[which]);
          ReversibleSgd sgd(Problem().Setup(50, kGamma), {.buffer = BufferKind::kFast});
          const auto t0 = std::chrono::steady_clock::now();
          sgd.Train(Problem().w0(), Problem().v0());
          std::vector<double> d_w(Problem().w0().size(), 1e-3);
          benchmark::DoNotOptimize(sgd.Reverse(d_w).d_w0.data());
          run_seconds[which] = std::min(run_seconds[which], Since(t0));
        }
      }
    }
    sched_setaffinity(0, sizeof original, &original);
    state.SetIterationTime(round_trip);
  }
  const double bytes = 65536.0 * sizeof(double);
  state.counters["cpu_a"] = cpus[0];
  state.counters["cpu_b"] = cpus[1];
  state.counters["round_trip_ns"] = 1e9 * round_trip;
  state.counters["read_other_core_gb_per_s"] = bytes / remote / 1e9;
  state.counters["read_own_gb_per_s"] = bytes / local / 1e9;
  state.counters["products_alone_ms_per_step"] = 1e3 * alone / 50;
  state.counters["products_alone_ms_per_step_cpu_b"] = 1e3 * alone_b / 50;
  state.counters["products_both_busy_ms_per_step"] = 1e3 * together / 50;
  state.counters["products_both_busy_ms_per_step_cpu_b"] = 1e3 * together_b / 50;
  // Each core's speed beside the other against its own speed alone; the lower of the two.
  state.counters["products_both_busy_speed"] = std::min(alone / together, alone_b / together_b);
  state.counters["steps_ms_cpu_a"] = 1e3 * run_seconds[0] / 50;
  state.counters["steps_ms_cpu_b"] = 1e3 * run_seconds[1] / 50;
}

void BM_Hypergradient(benchmark::State& state, std::size_t iters, Method m) {
  Problem();
  RunResult r;
  for (auto _ : state) {
    r = Run(iters, m);
    state.SetIterationTime(r.seconds_forward + r.seconds_reverse);
  }
  Remember(iters, m, r);
  const Reference& ref = ReferenceFor(iters, m.buffer);
  const bool exact_method = m.method != ReversalMethod::kNaiveFloat;
  const bool bitwise = SameHypergradients(r.h, ref.stored);
  if (exact_method && !(bitwise && r.h.reversal.exact)) {
    state.SkipWithError("hypergradients differ from the stored trajectory's");
  }
  const std::size_t measured_extra =
      r.measured_peak_bytes > ref.baseline_peak_bytes ? r.measured_peak_bytes - ref.baseline_peak_bytes : 0;
  state.counters["iters"] = static_cast<double>(iters);
  state.counters["snapshots"] = static_cast<double>(m.snapshots);
  state.counters["params"] = static_cast<double>(Problem().w0().size());
  state.counters["seconds_forward"] = r.seconds_forward;
  state.counters["seconds_reverse"] = r.seconds_reverse;
  state.counters["gradients"] = static_cast<double>(2 * iters + r.recomputed);
  state.counters["hvps"] = static_cast<double>(iters);
  state.counters["recomputed_steps"] = static_cast<double>(r.recomputed);
  // Forward steps as Griewank & Walther count them (the last step, reversed first, excluded).
  state.counters["forward_steps"] = static_cast<double>(iters - 1 + r.recomputed);
  state.counters["closed_form_forward_steps"] =
      m.method == ReversalMethod::kRevolve
          ? static_cast<double>(BinomialForwardSteps(iters, m.snapshots))
          : 0.0;
  state.counters["computed_peak_extra_bytes"] = static_cast<double>(r.computed_peak_bytes);
  state.counters["states_only_bytes"] = StatesOnlyBytes(iters, m, r.computed_peak_bytes);
  state.counters["measured_peak_bytes"] = static_cast<double>(r.measured_peak_bytes);
  state.counters["measured_baseline_peak_bytes"] = static_cast<double>(ref.baseline_peak_bytes);
  state.counters["measured_peak_extra_bytes"] = static_cast<double>(measured_extra);
  state.counters["bitwise_equal_to_stored"] = bitwise ? 1.0 : 0.0;
  state.counters["reversal_exact"] = r.h.reversal.exact ? 1.0 : 0.0;
  state.SetLabel(std::string(ReversalMethodName(m.method)) + "/" +
                 std::string(BufferKindName(m.buffer)) +
                 (m.snapshots ? "/s=" + std::to_string(m.snapshots) : ""));
}

// Reversible Adam on the same network (α = 0.002, β1 = 0.9, β2 = 0.999, ε = 10^-8, m_0 = s_0 =
// 0): time, bits per parameter per step, and the memory beside storing (w, m, s) every step;
// the reversible run must equal the stored trajectory bit for bit.
constexpr double kAdamAlpha = 0.002, kBeta1 = 0.9, kBeta2 = 0.999, kEps = 1e-8;

void BM_AdamHypergradient(benchmark::State& state, std::size_t iters, Method m) {
  const bench::Fig2Network& p = Problem();
  const std::vector<double> zeros(2 * p.w0().size(), 0.0);  // m_0 = s_0 = 0
  const auto run = [&](const Method& method) {
    SgdSetup sgd = p.Setup(iters, kGamma);  // the model, blocks and batches
    AdamSetup setup{sgd.model, sgd.blocks,
                    AdamSchedule::Constant(iters, sgd.blocks.num_blocks(), kAdamAlpha, kBeta1,
                                           kBeta2, kEps),
                    sgd.batches};
    return TimedRun<ReversibleAdam>(std::move(setup), method, zeros);
  };
  RunResult r;
  for (auto _ : state) {
    r = run(m);
    state.SetIterationTime(r.seconds_forward + r.seconds_reverse);
  }
  bool bitwise = true;
  if (m.method != ReversalMethod::kStoredTrajectory) {
    const Hypergradients stored = run({ReversalMethod::kStoredTrajectory, m.buffer}).h;
    bitwise = BitwiseEqual(r.h, stored);
  }
  if (!(bitwise && r.h.reversal.exact)) {
    state.SkipWithError("Adam hypergradients differ from the stored trajectory's");
  }
  const double params = static_cast<double>(p.w0().size());
  state.counters["iters"] = static_cast<double>(iters);
  state.counters["params"] = params;
  state.counters["seconds_forward"] = r.seconds_forward;
  state.counters["seconds_reverse"] = r.seconds_reverse;
  state.counters["info_bits_per_param_per_step"] = r.info_bits / (params * double(iters));
  state.counters["computed_peak_extra_bytes"] = static_cast<double>(r.computed_peak_bytes);
  // Storing (w, m, s) in float64 every step.
  state.counters["store_all_bytes"] = 3.0 * 8.0 * params * static_cast<double>(iters);
  state.counters["measured_peak_bytes"] = static_cast<double>(r.measured_peak_bytes);
  state.counters["bitwise_equal_to_stored"] = bitwise ? 1.0 : 0.0;
  state.counters["reversal_exact"] = r.h.reversal.exact ? 1.0 : 0.0;
  state.SetLabel("adam/" + std::string(ReversalMethodName(m.method)) + "/" +
                 std::string(BufferKindName(m.buffer)));
}

void RegisterAll() {
  const bool full = FullSize();
  const std::vector<std::size_t> sizes = full ? std::vector<std::size_t>{100, 1000, 10000}
                                              : std::vector<std::size_t>{100, 1000};
  const std::size_t revolve_cap = full ? 30 : 10;  // largest t(T, s)/T run
  for (std::size_t iters : sizes) {
    benchmark::RegisterBenchmark("BM_Forward", BM_Forward)
        ->Arg(static_cast<int>(iters))
        ->ArgName("iters")
        ->Iterations(1)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark("BM_MatrixProductFloor", BM_MatrixProductFloor)
        ->Args({static_cast<int>(iters), 0, 0})
        ->Args({static_cast<int>(iters), 1, 0})
        ->Args({static_cast<int>(iters), 0, 1})
        ->ArgNames({"iters", "polynomial_tanh", "tool_layout"})
        ->Iterations(1)
        ->Unit(benchmark::kMillisecond)
        ->UseManualTime();
    if (iters == sizes.front()) {
      benchmark::RegisterBenchmark("BM_CrossCore", BM_CrossCore)->Iterations(1)->UseManualTime();
    }
    for (const int threads : {2, 4}) {
      benchmark::RegisterBenchmark("BM_Threads", BM_Threads)
          ->Args({static_cast<int>(iters), threads})
          ->ArgNames({"iters", "threads"})
          ->Iterations(1)
          ->Unit(benchmark::kMillisecond)
          ->UseManualTime();
    }
    // Naive float first (the memory baseline), stored second (the reference hypergradients).
    std::vector<Method> methods = {{ReversalMethod::kNaiveFloat},
                                   {ReversalMethod::kStoredTrajectory},
                                   {ReversalMethod::kReversible, BufferKind::kFast},
                                   {ReversalMethod::kReversible, BufferKind::kExact},
                                   {ReversalMethod::kCheckpointed}};
    for (std::size_t s : {2, 5, 10, 20}) {
      if (BinomialForwardSteps(iters, s) <= revolve_cap * iters) {
        methods.push_back({ReversalMethod::kRevolve, BufferKind::kFast, s});
      }
    }
    for (const Method& m : methods) {
      benchmark::RegisterBenchmark(
          ("BM_Hypergradient/iters:" + std::to_string(iters) + "/" + m.Name()).c_str(),
          BM_Hypergradient, iters, m)
          ->Iterations(1)
          ->Unit(benchmark::kMillisecond)
          ->UseManualTime();
    }
    for (const Method& m : {Method{ReversalMethod::kReversible, BufferKind::kFast},
                            Method{ReversalMethod::kReversible, BufferKind::kExact}}) {
      benchmark::RegisterBenchmark(
          ("BM_AdamHypergradient/iters:" + std::to_string(iters) + "/" + m.Name()).c_str(),
          BM_AdamHypergradient, iters, m)
          ->Iterations(1)
          ->Unit(benchmark::kMillisecond)
          ->UseManualTime();
    }
  }
}

}  // namespace
}  // namespace hypergrad

int main(int argc, char** argv) {
  hypergrad::SetBlasThreads(1);  // the same products in every run, whatever the environment says
  hypergrad::bench::RecordArithmeticContext();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  hypergrad::RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
