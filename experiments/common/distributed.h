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

// Ranks started differently (other arguments, another build, other data) would each compute
// their share of another job, and rank 0 would write the mix as one result. So before any work
// every rank's facts are compared with rank 0's: `facts()` returns one "name = value" line per
// fact (each setting, the build, each data file's SHA-256). RequireAgreement(facts) checks them
// at once and again at the start of every DistributedMap (by then the data files are read). If
// any rank differs, every rank throws a CollectiveError carrying the first differing rank's
// message, which names each fact that differs and both values ("rank 1: started differently
// from rank 0 (nothing was run): seed = 1 (rank 0: 0)"), so the job exits non-zero and writes
// nothing. Without MPI it only stores `facts`.
void RequireAgreement(std::function<std::string()> facts);

// Ends every rank at once with exit status `code` (MPI_Abort) when several ranks run; returns
// without MPI. For an error one rank meets alone outside DistributedMap (the others would
// otherwise wait for it forever).
void AbortAllRanks(int code);

// Computes body(i) for every i in [0, count): rank r takes the items i ≡ r (mod Ranks()), on up
// to `threads` threads. Returns all `count` results, in index order, on every rank.
// `on_done(total_done)` is called on rank 0 as items finish anywhere (from worker threads
// without MPI, from the main thread with it). If body throws on any rank, every rank throws a
// CollectiveError carrying the first failing rank's message ("rank R: ..."), so the job exits
// non-zero everywhere and writes nothing. First checks that the ranks agree (RequireAgreement).
std::vector<std::vector<double>> DistributedMap(
    std::size_t count, unsigned threads, const std::function<std::vector<double>(std::size_t)>& body,
    const std::function<void(std::size_t)>& on_done = {});

}  // namespace hypergrad::experiments

#endif  // HYPERGRAD_EXPERIMENTS_COMMON_DISTRIBUTED_H_
