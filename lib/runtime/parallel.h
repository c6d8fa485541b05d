// A parallel loop over independent pieces of work, on a pool of threads kept for the process.
#ifndef HYPERGRAD_RUNTIME_PARALLEL_H_
#define HYPERGRAD_RUNTIME_PARALLEL_H_

#include <cstddef>
#include <functional>
#include <vector>

namespace hypergrad {

// Calls body(i) for i in [0, count) on up to `threads` threads, never more than the CPUs the
// process may run on (its affinity mask), each i exactly once, in no particular order; the
// calling thread works too. The first exception thrown by a body is
// rethrown after all threads stop. Results are deterministic as long as each body writes only
// its own outputs: which thread runs which i never matters for the result. For speed, each
// thread starts on its own contiguous share of [0, count) (the caller the first), and a thread
// done with its share takes items left in the others': loops over the same data with the same
// count keep it mostly on the same cores.
//
// The threads are kept between calls (a call costs a wake-up, not a thread start, so it suits
// loops of a few milliseconds). A call made inside a body runs its items on the calling thread
// (nested loops do not multiply threads); a call made while another thread's loop holds the
// pool starts threads of its own.
void ParallelFor(std::size_t count, unsigned threads, const std::function<void(std::size_t)>& body);

// The CPUs this process may run on (its affinity mask, read once); at least 1.
unsigned UsableCpus();

// Lets loops run on more threads than UsableCpus() (false by default). The cap serves speed
// only, the results being the same bits for any count: the tests turn it off so that their runs
// on 3 or 4 threads exercise that many threads on any machine.
void AllowThreadsBeyondCpus(bool allowed);

// [begin, end) of one piece of a fixed split.
struct Chunk {
  std::size_t begin = 0, end = 0;
  std::size_t size() const { return end - begin; }
};

// Splits [0, count) into at most `max_chunks` contiguous pieces of at least `min_size` items
// (except when count is smaller), every boundary on a multiple of `align`. The split depends on
// these arguments only — never on a thread count — so work reduced piece by piece in a fixed
// order gives the same bits on any number of threads. max_chunks, min_size, align ≥ 1.
std::vector<Chunk> FixedChunks(std::size_t count, std::size_t max_chunks, std::size_t min_size,
                               std::size_t align);

// How parameter-length vectors are split for several threads: at most kElementPieces pieces of
// at least kMinElementsPerPiece elements (FixedChunks, alignment 1). Algorithm 3's parallel form
// splits the same way by default (algorithm3.h, RatioSplit), so that with ParallelFor's fixed
// shares each thread works on the same parameters in every loop of a step.
inline constexpr std::size_t kElementPieces = 16, kMinElementsPerPiece = 2048;

// The pieces element-wise work over n elements is split into for `threads`: the whole range
// for one thread, else the fixed split above (never dependent on the thread count beyond that;
// each element is computed alone, so the results are the same bits either way).
std::vector<Chunk> ElementPieces(std::size_t n, unsigned threads);

// body(k) for every k < n, on the fixed split ElementPieces(n, threads): element-wise loops whose
// iterations write only element k give the same bits on any number of threads.
class ElementLoop {
 public:
  ElementLoop(std::size_t n, unsigned threads) : pieces_(ElementPieces(n, threads)), threads_(threads) {}
  template <class Body>
  void operator()(Body&& body) const {
    ParallelFor(pieces_.size(), threads_, [&](std::size_t j) {
      for (std::size_t k = pieces_[j].begin; k < pieces_[j].end; ++k) body(k);
    });
  }

 private:
  std::vector<Chunk> pieces_;
  unsigned threads_;
};

}  // namespace hypergrad

#endif  // HYPERGRAD_RUNTIME_PARALLEL_H_
