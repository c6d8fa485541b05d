// The time a run spends in the named pieces of its training and reverse steps (the matrix
// products, Algorithm 3, tanh, ...), summed over the run: the benchmarks' breakdown of a step
// (bench_hypergrad's BM_MatrixProductFloor). Off by default, when a piece costs one relaxed load.
#ifndef HYPERGRAD_RUNTIME_STEP_PROFILE_H_
#define HYPERGRAD_RUNTIME_STEP_PROFILE_H_

#include <array>
#include <chrono>

namespace hypergrad {

enum class StepPiece : int {
  kProducts,            // Gemm
  kAlgorithm3,          // MultiplyByRatio / DivideByRatio
  kTanh,                // TanhInPlace
  kFixedPointAdds,      // FixedPointVector / WideFixedPointVector AddScaled, SubScaled
  kFixedPointToDouble,  // CopyValuesTo
  kInputConversion,     // the MLP's inputs converted from bytes (or gathered) for a pass
};
inline constexpr int kStepPieces = 6;

// "products", "algorithm3", "tanh", "fixed_point_adds", "fixed_point_to_double",
// "input_conversion".
const char* StepPieceName(StepPiece piece);

// Starts recording from zero (true) or stops (false). Not to be switched while pieces run.
void RecordStepPieces(bool on);

// The seconds recorded per piece, in StepPiece order: summed over the threads that ran them
// (wall time for a run on one thread). A piece inside another (none today) counts in the outer.
std::array<double, kStepPieces> StepPieceSeconds();

// Adds its lifetime to `piece` while recording is on.
class StepPieceTimer {
 public:
  explicit StepPieceTimer(StepPiece piece);
  ~StepPieceTimer();
  StepPieceTimer(const StepPieceTimer&) = delete;
  StepPieceTimer& operator=(const StepPieceTimer&) = delete;

 private:
  int piece_ = -1;  // -1: not recording (off, or inside another piece)
  std::chrono::steady_clock::time_point start_;
};

}  // namespace hypergrad

#endif  // HYPERGRAD_RUNTIME_STEP_PROFILE_H_
