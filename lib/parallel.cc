#include "parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace hypergrad {
namespace {

// True on a pool worker, and on a caller while its loop runs: a nested call runs inline.
thread_local bool in_parallel_loop = false;

// One loop's shared state: items are handed out by an atomic counter.
struct Loop {
  std::size_t count = 0;
  const std::function<void(std::size_t)>* body = nullptr;
  std::atomic<std::size_t> next{0};
  std::mutex failure_mutex;
  std::exception_ptr failure;

  void Work() {
    for (std::size_t i = next++; i < count; i = next++) {
      try {
        (*body)(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(failure_mutex);
        if (!failure) failure = std::current_exception();
        next = count;  // stop handing out work
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

// Worker threads that spin briefly, then sleep, between loops. One loop at a time (`busy_`).
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
    {
      std::lock_guard<std::mutex> lock(mutex_);
      while (workers_.size() < helpers) {
        const unsigned index = static_cast<unsigned>(workers_.size());
        workers_.emplace_back([this, index] { WorkerMain(index); });
      }
      loop_ = &loop;
      helpers_ = helpers;
      running_.store(helpers);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    in_parallel_loop = true;
    loop.Work();
    in_parallel_loop = false;
    if (!SpinFor([this] { return running_.load(std::memory_order_acquire) == 0; })) {
      std::unique_lock<std::mutex> lock(mutex_);
      done_.wait(lock, [this] { return running_.load() == 0; });
    }
    loop_ = nullptr;
    return true;
  }

  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
  }

 private:
  void WorkerMain(unsigned index) {
    in_parallel_loop = true;
    std::uint64_t seen = 0;
    while (true) {
      SpinFor([&] { return generation_.load(std::memory_order_acquire) != seen; });
      Loop* loop = nullptr;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || generation_.load() != seen; });
        if (stop_) return;
        seen = generation_.load();
        if (index >= helpers_) continue;  // this loop wants fewer threads
        loop = loop_;
      }
      loop->Work();
      if (running_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(mutex_);  // the caller checks running_ under it
        done_.notify_one();
      }
    }
  }

  std::mutex busy_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  Loop* loop_ = nullptr;
  unsigned helpers_ = 0;
  std::atomic<unsigned> running_{0};
  std::atomic<std::uint64_t> generation_{0};
  bool stop_ = false;
};

}  // namespace

void ParallelFor(std::size_t count, unsigned threads, const std::function<void(std::size_t)>& body) {
  Loop loop;
  loop.count = count;
  loop.body = &body;
  const auto used = static_cast<unsigned>(std::max<std::size_t>(1, std::min<std::size_t>(threads, count)));
  if (used == 1 || in_parallel_loop) {
    loop.Work();
  } else if (!Pool::Instance().TryRun(loop, used - 1)) {
    // Another thread's loop holds the pool: threads of our own, for this loop only.
    std::vector<std::thread> extra;
    for (unsigned t = 1; t < used; ++t) {
      extra.emplace_back([&loop] {
        in_parallel_loop = true;
        loop.Work();
      });
    }
    in_parallel_loop = true;
    loop.Work();
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

}  // namespace hypergrad
