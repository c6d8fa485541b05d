// A parallel loop over independent pieces of work.
#ifndef HYPERGRAD_PARALLEL_H_
#define HYPERGRAD_PARALLEL_H_

#include <cstddef>
#include <functional>

namespace hypergrad {

// Calls body(i) for i in [0, count) on up to `threads` threads (each i exactly once, in no
// particular order; the calling thread works too). The first exception thrown by a body is
// rethrown after all threads stop. Results are deterministic as long as each body writes only
// its own outputs.
void ParallelFor(std::size_t count, unsigned threads, const std::function<void(std::size_t)>& body);

}  // namespace hypergrad

#endif  // HYPERGRAD_PARALLEL_H_
