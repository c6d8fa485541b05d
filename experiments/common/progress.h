// Progress of long loops on stderr: "forward: 41% (410000/1000000), 3.1 s elapsed, ~4.4 s left".
// Prints at most once per `interval` seconds and once at the end; never to stdout, so JSON output
// stays clean. Safe to call from several threads.
#ifndef HYPERGRAD_EXPERIMENTS_COMMON_PROGRESS_H_
#define HYPERGRAD_EXPERIMENTS_COMMON_PROGRESS_H_

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>

namespace hypergrad::experiments {

class Progress {
 public:
  // `label` names the loop; `total` is the number of units; nothing is printed if !enabled.
  Progress(std::string label, std::size_t total, bool enabled, double interval_seconds = 2.0);

  // `done` units finished; `detail` (e.g. "loss 0.53") is appended when given.
  void Update(std::size_t done, const std::string& detail = "") {
    if (enabled_) MaybePrint(done, detail, /*force=*/false);
  }
  // Prints the final line (with the total time).
  void Finish(const std::string& detail = "");

  // Starts the clock again (for a loop that begins later than the object was made).
  void Restart();
  // Seconds since construction or Restart().
  double Elapsed() const;

 private:
  void MaybePrint(std::size_t done, const std::string& detail, bool force);

  std::string label_;
  std::size_t total_;
  bool enabled_;
  double interval_;
  std::chrono::steady_clock::time_point start_, last_print_;
  std::mutex mutex_;
};

}  // namespace hypergrad::experiments

#endif  // HYPERGRAD_EXPERIMENTS_COMMON_PROGRESS_H_
