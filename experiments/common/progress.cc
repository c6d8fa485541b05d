#include "progress.h"

#include <cstdio>

namespace hypergrad::experiments {

Progress::Progress(std::string label, std::size_t total, bool enabled, double interval_seconds)
    : label_(std::move(label)),
      total_(total),
      enabled_(enabled),
      interval_(interval_seconds),
      start_(std::chrono::steady_clock::now()),
      last_print_(start_) {}

void Progress::Restart() { start_ = last_print_ = std::chrono::steady_clock::now(); }

double Progress::Elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::MaybePrint(std::size_t done, const std::string& detail, bool force) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (!force && std::chrono::duration<double>(now - last_print_).count() < interval_) return;
  last_print_ = now;
  const double elapsed = Elapsed();
  const double fraction = total_ == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total_);
  std::string line = label_ + ": " + std::to_string(static_cast<int>(100.0 * fraction)) + "% (" +
                     std::to_string(done) + "/" + std::to_string(total_) + ")";
  char times[96];
  if (done < total_ && fraction > 0.0) {
    std::snprintf(times, sizeof times, ", %.1f s elapsed, ~%.1f s left", elapsed,
                  elapsed * (1.0 - fraction) / fraction);
  } else {
    std::snprintf(times, sizeof times, ", %.1f s", elapsed);
  }
  line += times;
  if (!detail.empty()) line += ", " + detail;
  std::fprintf(stderr, "%s\n", line.c_str());
}

void Progress::Finish(const std::string& detail) {
  if (enabled_) MaybePrint(total_, detail, /*force=*/true);
}

}  // namespace hypergrad::experiments
