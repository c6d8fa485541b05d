#include "common/learning_rate_search.h"

#include <cmath>
#include <limits>

#include "common/distributed.h"
#include "common/progress.h"

namespace hypergrad::experiments {

void LearningRateSearch::Write(H5Writer& w) const {
  w.Write("/search/log_alpha", log_alpha);
  w.Write("/search/train_loss", train_loss);
  w.Write("/search/valid_loss", valid_loss);
  w.Write("/search/test_loss", test_loss);
  w.Write("/search/test_error", test_error);
  w.WriteInts("/search/diverged", diverged);
}

LearningRateSearch SearchConstantLearningRate(std::size_t runs, double low, double high,
                                              unsigned threads, bool quiet,
                                              const std::string& label,
                                              const std::function<SearchRun(std::size_t, double)>& run) {
  Progress progress(label, runs, !quiet, 5.0);
  const auto rows = DistributedMap(runs, threads, [&](std::size_t i) {
    const double log_alpha = runs == 1 ? low
        : low + (high - low) * static_cast<double>(i) / static_cast<double>(runs - 1);
    const SearchRun r = run(i, log_alpha);
    const double nan = std::numeric_limits<double>::quiet_NaN();
    return std::vector<double>{log_alpha, r.diverged ? 1.0 : 0.0, r.diverged ? nan : r.train_loss,
                               r.diverged ? nan : r.valid_loss, r.diverged ? nan : r.test_loss,
                               r.diverged ? nan : r.test_error};
  }, [&](std::size_t done) { progress.Update(done); });
  LearningRateSearch s;
  for (std::size_t i = 0; i < runs; ++i) {
    s.log_alpha.push_back(rows[i][0]);
    s.diverged.push_back(rows[i][1] != 0.0);
    s.train_loss.push_back(rows[i][2]);
    s.valid_loss.push_back(rows[i][3]);
    s.test_loss.push_back(rows[i][4]);
    s.test_error.push_back(rows[i][5]);
    const double v = rows[i][3];
    if (!std::isnan(v) && (std::isnan(s.valid_loss[s.best]) || v < s.valid_loss[s.best])) s.best = i;
  }
  return s;
}

}  // namespace hypergrad::experiments
