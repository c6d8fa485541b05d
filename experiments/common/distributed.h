// Sweeps of independent runs over MPI ranks (Open MPI under mpirun, or srun under Slurm), each
// rank using its threads, with results that are the same bits for any number of ranks or
// threads: the split is a fixed rule (item i goes to rank i mod ranks), each item is computed
// whole by one thread, and every rank receives every result in index order, so whatever follows
// (averages in a fixed order, the file) is computed identically everywhere and written once, by
// rank 0.
//
// Started normally (no mpirun/srun in the environment) nothing of MPI is touched: one rank.
#ifndef HYPERGRAD_EXPERIMENTS_COMMON_DISTRIBUTED_H_
#define HYPERGRAD_EXPERIMENTS_COMMON_DISTRIBUTED_H_

#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace hypergrad::experiments {

// MPI for the lifetime of the object (MPI_Init_thread with MPI_THREAD_FUNNELED, then
// MPI_Finalize) when the process was started by mpirun/srun; nothing otherwise. Create one in
// main() before anything else.
class MpiSession {
 public:
  MpiSession(int* argc, char*** argv);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
};

// This process's rank and the number of ranks (0 and 1 without MPI).
int Rank();
int Ranks();
inline bool IsRoot() { return Rank() == 0; }

// An error every rank throws together (so only rank 0 needs to print it).
class CollectiveError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Computes body(i) for every i in [0, count): rank r takes the items i ≡ r (mod Ranks()), on up
// to `threads` threads. Returns all `count` results, in index order, on every rank.
// `on_done(total_done)` is called on rank 0 as items finish anywhere (from worker threads
// without MPI, from the main thread with it). If body throws on any rank, every rank throws a
// CollectiveError carrying the first failing rank's message ("rank R: ..."), so the job exits
// non-zero everywhere and writes nothing.
std::vector<std::vector<double>> DistributedMap(
    std::size_t count, unsigned threads, const std::function<std::vector<double>(std::size_t)>& body,
    const std::function<void(std::size_t)>& on_done = {});

}  // namespace hypergrad::experiments

#endif  // HYPERGRAD_EXPERIMENTS_COMMON_DISTRIBUTED_H_
