// step_profile.h: nothing is recorded while off; while on, each piece's time goes to that piece
// (a piece inside another counts once, in the outer); turning it on again starts from zero.
#include "runtime/step_profile.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

namespace hypergrad {
namespace {

void Busy(std::chrono::microseconds d) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
  }
}

TEST(StepProfile, RecordsEachPieceOnlyWhileOn) {
  RecordStepPieces(false);
  { const StepPieceTimer t(StepPiece::kTanh); Busy(std::chrono::microseconds(2000)); }
  RecordStepPieces(true);
  for (double s : StepPieceSeconds()) EXPECT_EQ(s, 0.0);
  { const StepPieceTimer t(StepPiece::kProducts); Busy(std::chrono::microseconds(3000)); }
  {
    const StepPieceTimer outer(StepPiece::kAlgorithm3);
    Busy(std::chrono::microseconds(1000));
    const StepPieceTimer inner(StepPiece::kTanh);  // inside another piece: not counted apart
    Busy(std::chrono::microseconds(1000));
  }
  const auto s = StepPieceSeconds();
  RecordStepPieces(false);
  { const StepPieceTimer t(StepPiece::kProducts); Busy(std::chrono::microseconds(2000)); }
  EXPECT_GE(s[static_cast<int>(StepPiece::kProducts)], 3e-3);
  EXPECT_GE(s[static_cast<int>(StepPiece::kAlgorithm3)], 2e-3);
  EXPECT_EQ(s[static_cast<int>(StepPiece::kTanh)], 0.0);
  EXPECT_EQ(StepPieceSeconds(), s);  // off: nothing more
  EXPECT_EQ(std::string(StepPieceName(StepPiece::kFixedPointToDouble)), "fixed_point_to_double");
}

}  // namespace
}  // namespace hypergrad
