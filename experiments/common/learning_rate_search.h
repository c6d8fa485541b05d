// The 1-D baseline of Figs 2–3 and of the reversible-Adam experiment: training runs at evenly
// spaced constant log α, chosen on validation loss. Runs are split over MPI ranks (if any) and
// threads (distributed.h); the result is the same for any split.
#ifndef HYPERGRAD_EXPERIMENTS_COMMON_LEARNING_RATE_SEARCH_H_
#define HYPERGRAD_EXPERIMENTS_COMMON_LEARNING_RATE_SEARCH_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "results/h5_writer.h"

namespace hypergrad::experiments {

// What one search run reports (losses and error are not read when it diverged).
struct SearchRun {
  bool diverged = false;
  double train_loss = 0, valid_loss = 0, test_loss = 0, test_error = 0;
};

struct LearningRateSearch {
  std::vector<double> log_alpha, train_loss, valid_loss, test_loss, test_error;  // NaN: diverged
  std::vector<std::int64_t> diverged;
  std::size_t best = 0;  // the lowest validation loss (the first run if every run diverged)

  // /search/log_alpha, train_loss, valid_loss, test_loss, test_error, diverged.
  void Write(H5Writer& writer) const;
};

// Runs `run(i, log α_i)` for i = 0 … runs−1, log α_i = low + (high − low)·i/(runs − 1) (low if
// runs = 1), with `threads` per rank, showing progress under `label` unless `quiet`.
LearningRateSearch SearchConstantLearningRate(std::size_t runs, double low, double high,
                                              unsigned threads, bool quiet,
                                              const std::string& label,
                                              const std::function<SearchRun(std::size_t, double)>& run);

}  // namespace hypergrad::experiments

#endif  // HYPERGRAD_EXPERIMENTS_COMMON_LEARNING_RATE_SEARCH_H_
