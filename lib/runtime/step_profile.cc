#include "runtime/step_profile.h"

#include <atomic>
#include <cstdint>

namespace hypergrad {
namespace {

std::atomic<bool> recording{false};
std::array<std::atomic<std::int64_t>, kStepPieces> nanoseconds{};
thread_local bool inside_piece = false;

}  // namespace

const char* StepPieceName(StepPiece piece) {
  switch (piece) {
    case StepPiece::kProducts: return "products";
    case StepPiece::kAlgorithm3: return "algorithm3";
    case StepPiece::kTanh: return "tanh";
    case StepPiece::kFixedPointAdds: return "fixed_point_adds";
    case StepPiece::kFixedPointToDouble: return "fixed_point_to_double";
    case StepPiece::kInputConversion: return "input_conversion";
  }
  return "unknown";
}

void RecordStepPieces(bool on) {
  if (on) {
    for (auto& ns : nanoseconds) ns.store(0);
  }
  recording.store(on);
}

std::array<double, kStepPieces> StepPieceSeconds() {
  std::array<double, kStepPieces> seconds{};
  for (int k = 0; k < kStepPieces; ++k) seconds[k] = static_cast<double>(nanoseconds[k].load()) * 1e-9;
  return seconds;
}

StepPieceTimer::StepPieceTimer(StepPiece piece) {
  if (!recording.load(std::memory_order_relaxed) || inside_piece) return;
  inside_piece = true;
  piece_ = static_cast<int>(piece);
  start_ = std::chrono::steady_clock::now();
}

StepPieceTimer::~StepPieceTimer() {
  if (piece_ < 0) return;
  const auto elapsed = std::chrono::steady_clock::now() - start_;
  nanoseconds[piece_].fetch_add(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count(),
                                std::memory_order_relaxed);
  inside_piece = false;
}

}  // namespace hypergrad
