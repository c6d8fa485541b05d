#include "common/distributed.h"

#include <mpi.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "runtime/parallel.h"

namespace hypergrad::experiments {
namespace {

bool g_active = false;
int g_rank = 0, g_ranks = 1;

// Started by mpirun/mpiexec (Open MPI) or srun (PMI/PMIx)?
bool LaunchedByMpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

void Check(int code, const char* what) {
  if (code != MPI_SUCCESS) throw std::runtime_error(std::string("MPI: ") + what + " failed");
}

// Items finished anywhere, counted on rank 0 through a one-sided window (only the main thread
// calls MPI).
class DoneCounter {
 public:
  DoneCounter() {
    Check(MPI_Win_allocate(g_rank == 0 ? sizeof(long long) : 0, sizeof(long long), MPI_INFO_NULL,
                           MPI_COMM_WORLD, &base_, &window_), "MPI_Win_allocate");
    if (g_rank == 0) {
      MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, window_);
      *base_ = 0;
      MPI_Win_unlock(0, window_);
    }
    MPI_Barrier(MPI_COMM_WORLD);
  }
  ~DoneCounter() { MPI_Win_free(&window_); }
  // Adds `delta` and returns the total (meaningful on rank 0).
  long long Add(long long delta) {
    long long total = 0;
    MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, window_);
    MPI_Fetch_and_op(&delta, &total, MPI_LONG_LONG, 0, 0, MPI_SUM, window_);
    MPI_Win_unlock(0, window_);
    return total + delta;
  }

 private:
  long long* base_ = nullptr;
  MPI_Win window_{};
};

// Every rank passes its `failure` ("" if none); if any is not empty, every rank throws a
// CollectiveError with the lowest failing rank's ("rank R: ...").
void ThrowFirstFailure(std::string failure) {
  int failed_rank = failure.empty() ? g_ranks : g_rank, first = g_ranks;
  MPI_Allreduce(&failed_rank, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (first < g_ranks) {
    int length = static_cast<int>(failure.size());
    MPI_Bcast(&length, 1, MPI_INT, first, MPI_COMM_WORLD);
    failure.resize(static_cast<std::size_t>(length));
    MPI_Bcast(failure.data(), length, MPI_CHAR, first, MPI_COMM_WORLD);
    throw CollectiveError("rank " + std::to_string(first) + ": " + failure);
  }
}

// "name = value" lines as (name, value) pairs, in order; a line without " = " is its own name.
std::vector<std::pair<std::string, std::string>> Facts(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> facts;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    const std::size_t eq = line.find(" = ");
    if (eq == std::string::npos) {
      facts.emplace_back(line, "");
    } else {
      facts.emplace_back(line.substr(0, eq), line.substr(eq + 3));
    }
  }
  return facts;
}

// What differs between this rank's facts and rank 0's ("" if nothing).
std::string Differences(const std::string& mine, const std::string& root) {
  if (mine == root) return "";
  const auto here = Facts(mine), there = Facts(root);
  const auto find = [](const auto& facts, const std::string& name) -> const std::string* {
    for (const auto& [key, value] : facts) {
      if (key == name) return &value;
    }
    return nullptr;
  };
  std::string differences;
  const auto add = [&](const std::string& name, const std::string* a, const std::string* b) {
    if (a != nullptr && b != nullptr && *a == *b) return;
    differences += (differences.empty() ? "" : "; ") + name + " = " + (a ? *a : std::string("(none)")) +
                   " (rank 0: " + (b ? *b : std::string("(none)")) + ")";
  };
  for (const auto& [key, value] : here) add(key, &value, find(there, key));
  for (const auto& [key, value] : there) {
    if (find(here, key) == nullptr) add(key, nullptr, &value);
  }
  if (differences.empty()) differences = "the same facts in another order";
  return "started differently from rank 0 (nothing was run): " + differences;
}

std::function<std::string()> g_facts;

void CheckAgreement() {
  if (!g_active || g_ranks < 2 || !g_facts) return;
  const std::string mine = g_facts();
  std::string root = mine;
  int length = static_cast<int>(root.size());
  MPI_Bcast(&length, 1, MPI_INT, 0, MPI_COMM_WORLD);
  root.resize(static_cast<std::size_t>(length));
  MPI_Bcast(root.data(), length, MPI_CHAR, 0, MPI_COMM_WORLD);
  ThrowFirstFailure(Differences(mine, root));
}

}  // namespace

void RequireAgreement(std::function<std::string()> facts) {
  g_facts = std::move(facts);
  CheckAgreement();
}

void AbortAllRanks(int code) {
  if (g_active && g_ranks > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

MpiSession::MpiSession(int* argc, char*** argv) {
  if (!LaunchedByMpi()) return;
  int provided = 0;
  Check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_ranks);
  g_active = true;
}

MpiSession::~MpiSession() {
  if (g_active) MPI_Finalize();
  g_active = false;
}

int Rank() { return g_rank; }
int Ranks() { return g_ranks; }

std::vector<std::vector<double>> DistributedMap(
    std::size_t count, unsigned threads, const std::function<std::vector<double>(std::size_t)>& body,
    const std::function<void(std::size_t)>& on_done) {
  std::vector<std::vector<double>> results(count);
  const auto ranks = static_cast<std::size_t>(g_ranks), rank = static_cast<std::size_t>(g_rank);
  std::vector<std::size_t> mine;
  for (std::size_t i = rank; i < count; i += ranks) mine.push_back(i);

  if (!g_active) {
    std::atomic<std::size_t> done{0};
    ParallelFor(count, threads, [&](std::size_t i) {
      results[i] = body(i);
      const std::size_t total = ++done;
      if (on_done) on_done(total);
    });
    return results;
  }

  CheckAgreement();
  // This rank's items, then the first failure (lowest rank) is everyone's. For the tests,
  // HYPERGRAD_FAULT_RANK=r makes rank r fail its first item (a fault on one rank only).
  const char* fault = std::getenv("HYPERGRAD_FAULT_RANK");
  const bool inject = fault != nullptr && std::atoi(fault) == g_rank;
  std::string failure;
  {
    DoneCounter counter;
    const std::size_t block = std::max<std::size_t>(1, 4 * static_cast<std::size_t>(threads));
    try {
      for (std::size_t start = 0; start < mine.size(); start += block) {
        const std::size_t end = std::min(mine.size(), start + block);
        if (inject) throw std::runtime_error("injected fault (HYPERGRAD_FAULT_RANK=" + std::string(fault) + ")");
        ParallelFor(end - start, threads, [&](std::size_t j) { results[mine[start + j]] = body(mine[start + j]); });
        const long long total = counter.Add(static_cast<long long>(end - start));
        if (g_rank == 0 && on_done) on_done(static_cast<std::size_t>(total));
      }
    } catch (const std::exception& e) {
      failure = e.what();
    }
    MPI_Barrier(MPI_COMM_WORLD);
    if (g_rank == 0 && on_done && failure.empty()) on_done(static_cast<std::size_t>(counter.Add(0)));
  }
  ThrowFirstFailure(failure);

  // Every result to every rank: lengths first, then the values, each rank's items in order.
  std::vector<double> send;
  std::vector<int> lengths_mine;
  for (const std::size_t i : mine) {
    lengths_mine.push_back(static_cast<int>(results[i].size()));
    send.insert(send.end(), results[i].begin(), results[i].end());
  }
  std::vector<int> lengths(count, 0), counts(ranks), displacements(ranks);
  for (std::size_t r = 0; r < ranks; ++r) {
    counts[r] = static_cast<int>(r < count ? (count - r + ranks - 1) / ranks : 0);
    displacements[r] = r == 0 ? 0 : displacements[r - 1] + counts[r - 1];
  }
  std::vector<int> lengths_by_rank(count);
  MPI_Allgatherv(lengths_mine.data(), static_cast<int>(lengths_mine.size()), MPI_INT, lengths_by_rank.data(),
                 counts.data(), displacements.data(), MPI_INT, MPI_COMM_WORLD);
  // lengths_by_rank holds rank 0's items, then rank 1's, ...: map back to item indices.
  std::vector<int> value_counts(ranks, 0), value_displacements(ranks, 0);
  for (std::size_t r = 0, k = 0; r < ranks; ++r) {
    for (std::size_t i = r; i < count; i += ranks, ++k) {
      lengths[i] = lengths_by_rank[k];
      value_counts[r] += lengths[i];
    }
    value_displacements[r] = r == 0 ? 0 : value_displacements[r - 1] + value_counts[r - 1];
  }
  std::vector<double> all(static_cast<std::size_t>(value_displacements[ranks - 1] + value_counts[ranks - 1]));
  MPI_Allgatherv(send.data(), static_cast<int>(send.size()), MPI_DOUBLE, all.data(), value_counts.data(),
                 value_displacements.data(), MPI_DOUBLE, MPI_COMM_WORLD);
  for (std::size_t r = 0, offset = 0; r < ranks; ++r) {
    for (std::size_t i = r; i < count; i += ranks) {
      const auto n = static_cast<std::size_t>(lengths[i]);
      results[i].assign(all.begin() + static_cast<std::ptrdiff_t>(offset), all.begin() + static_cast<std::ptrdiff_t>(offset + n));
      offset += n;
    }
  }
  return results;
}

}  // namespace hypergrad::experiments
