#include "runtime/parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <sched.h>

namespace hypergrad {
namespace {

// True on a pool worker, and on a caller while its loop runs: a nested call runs inline.
thread_local bool in_parallel_loop = false;

// One loop's shared state. The items are split into one contiguous share per thread (slot 0:
// the caller, slot k: the k-th worker), each handed out by its own atomic counter; a thread that
// finishes its share takes items left in the others'. A training step runs the same loops over
// the same data every step, so the same thread mostly works on the same data: on the 2-vCPU
// machines measured, handing items out from one counter (whichever thread is free) made the
// second thread's items land in the other core's cache half the time, and the element loops of
// Algorithm 3 took twice the CPU time on two threads that they take on one (perf).
struct Loop {
  std::size_t count = 0;
  unsigned slots = 1;
  const std::function<void(std::size_t)>* body = nullptr;
  struct alignas(64) Share {  // one cache line each: the counters do not share one
    std::atomic<std::size_t> next{0};
    std::size_t end = 0;
  };
  std::unique_ptr<Share[]> shares;
  std::atomic<bool> stopped{false};
  std::mutex failure_mutex;
  std::exception_ptr failure;

  void Split(std::size_t items, unsigned threads) {
    count = items;
    slots = threads;
    shares = std::make_unique<Share[]>(slots);
    for (unsigned k = 0; k < slots; ++k) {
      shares[k].next.store(items * k / slots, std::memory_order_relaxed);
      shares[k].end = items * (k + 1) / slots;
    }
  }

  // Runs slot's share, then what is left of the others'.
  void Work(unsigned slot) {
    for (unsigned k = 0; k < slots; ++k) {
      Share& share = shares[(slot + k) % slots];
      for (std::size_t i = share.next++; i < share.end && !stopped.load(std::memory_order_relaxed);
           i = share.next++) {
        try {
          (*body)(i);
        } catch (...) {
          std::lock_guard<std::mutex> lock(failure_mutex);
          if (!failure) failure = std::current_exception();
          stopped = true;  // stop handing out work
        }
      }
    }
  }
};

// Waits up to about 50 µs for `ready()` without sleeping: a training step dispatches several
// loops a few tens of microseconds apart, and a futex wake-up costs as much again.
template <class Ready>
bool SpinFor(Ready ready) {
  for (int i = 0; i < 2000; ++i) {
    if (ready()) return true;
    __builtin_ia32_pause();
  }
  return ready();
}

// Worker threads that spin briefly, then sleep, between loops; only the workers a loop wants
// are woken (an idle worker must not spin beside busy ones). One loop at a time (`busy_`).
class Pool {
 public:
  static Pool& Instance() {
    static Pool pool;
    return pool;
  }

  // Runs `loop` on the caller and `helpers` workers; false (nothing run) if the pool is busy.
  bool TryRun(Loop& loop, unsigned helpers) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    while (workers_.size() < helpers) {
      workers_.push_back(std::make_unique<Worker>());
      Worker* w = workers_.back().get();
      const auto slot = static_cast<unsigned>(workers_.size());  // the caller is slot 0
      w->thread = std::thread([this, w, slot] { WorkerMain(*w, slot); });
    }
    loop_ = &loop;
    running_.store(helpers, std::memory_order_relaxed);
    ++generation_;
    for (unsigned i = 0; i < helpers; ++i) {
      Worker& w = *workers_[i];
      {
        std::lock_guard<std::mutex> lock(w.mutex);
        w.wanted.store(generation_, std::memory_order_release);
      }
      w.wake.notify_one();
    }
    in_parallel_loop = true;
    loop.Work(0);
    in_parallel_loop = false;
    if (!SpinFor([this] { return running_.load(std::memory_order_acquire) == 0; })) {
      std::unique_lock<std::mutex> lock(done_mutex_);
      done_.wait(lock, [this] { return running_.load(std::memory_order_acquire) == 0; });
    }
    return true;
  }

  ~Pool() {
    for (auto& w : workers_) {
      {
        std::lock_guard<std::mutex> lock(w->mutex);
        w->stop = true;
      }
      w->wake.notify_one();
    }
    for (auto& w : workers_) w->thread.join();
  }

 private:
  struct Worker {
    std::thread thread;
    std::mutex mutex;
    std::condition_variable wake;
    std::atomic<std::uint64_t> wanted{0};  // the generation of the loop it is wanted for
    bool stop = false;
  };

  void WorkerMain(Worker& w, unsigned slot) {
    in_parallel_loop = true;
    std::uint64_t seen = 0;
    while (true) {
      SpinFor([&] { return w.wanted.load(std::memory_order_acquire) != seen; });
      {
        std::unique_lock<std::mutex> lock(w.mutex);
        w.wake.wait(lock, [&] { return w.stop || w.wanted.load(std::memory_order_acquire) != seen; });
        if (w.stop) return;
        seen = w.wanted.load(std::memory_order_acquire);
      }
      loop_->Work(slot);  // set before `wanted`, whose release/acquire orders it
      if (running_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(done_mutex_);  // the caller checks running_ under it
        done_.notify_one();
      }
    }
  }

  std::mutex busy_;
  std::vector<std::unique_ptr<Worker>> workers_;  // touched only by the holder of busy_
  Loop* loop_ = nullptr;
  std::uint64_t generation_ = 0;
  std::atomic<unsigned> running_{0};
  std::mutex done_mutex_;
  std::condition_variable done_;
};

// Set by AllowThreadsBeyondCpus.
std::atomic<bool> threads_beyond_cpus{false};

}  // namespace

// The affinity mask: taskset's or a container's cpuset (not a CPU quota, which it does not show).
unsigned UsableCpus() {
  static const unsigned cpus = [] {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return std::max(1u, std::thread::hardware_concurrency());
    return static_cast<unsigned>(std::max(1, CPU_COUNT(&set)));
  }();
  return cpus;
}

void AllowThreadsBeyondCpus(bool allowed) { threads_beyond_cpus.store(allowed); }

void ParallelFor(std::size_t count, unsigned threads, const std::function<void(std::size_t)>& body) {
  // More threads than CPUs only lose: the threads wait for each other at every loop's end while
  // one of them is off the CPU (BM_Threads: 4 threads on 2 cores took 1.12x one thread's time).
  const unsigned cap = threads_beyond_cpus.load(std::memory_order_relaxed) ? threads : UsableCpus();
  const auto used = static_cast<unsigned>(
      std::max<std::size_t>(1, std::min<std::size_t>({threads, count, cap})));
  if (used == 1 || in_parallel_loop) {  // in index order on this thread; an error stops the loop
    for (std::size_t i = 0; i < count; ++i) body(i);
    return;
  }
  Loop loop;
  loop.body = &body;
  loop.Split(count, used);
  if (!Pool::Instance().TryRun(loop, loop.slots - 1)) {
    // Another thread's loop holds the pool: threads of our own, for this loop only.
    std::vector<std::thread> extra;
    for (unsigned t = 1; t < loop.slots; ++t) {
      extra.emplace_back([&loop, t] {
        in_parallel_loop = true;
        loop.Work(t);
      });
    }
    in_parallel_loop = true;
    loop.Work(0);
    in_parallel_loop = false;
    for (std::thread& t : extra) t.join();
  }
  if (loop.failure) std::rethrow_exception(loop.failure);
}

std::vector<Chunk> FixedChunks(std::size_t count, std::size_t max_chunks, std::size_t min_size,
                               std::size_t align) {
  if (max_chunks == 0 || min_size == 0 || align == 0) {
    throw std::invalid_argument("FixedChunks: max_chunks, min_size and align must be ≥ 1");
  }
  // Equal pieces, rounded up to the alignment, never below min_size.
  std::size_t size = (count + max_chunks - 1) / max_chunks;
  size = std::max(size, min_size);
  size = (size + align - 1) / align * align;
  std::vector<Chunk> chunks;
  for (std::size_t begin = 0; begin < count; begin += size) {
    chunks.push_back({begin, std::min(count, begin + size)});
  }
  return chunks;
}

std::vector<Chunk> ElementPieces(std::size_t n, unsigned threads) {
  if (threads <= 1) return {{0, n}};
  return FixedChunks(n, kElementPieces, kMinElementsPerPiece, 1);
}

}  // namespace hypergrad
