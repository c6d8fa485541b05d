#include "models/toy_surface.h"

#include <gtest/gtest.h>

#include <cmath>

namespace hypergrad {
namespace {

TEST(ToySurfaceTest, ReferenceLossAtTheInitialWeights) {
  // The authors' w_0 = (1.4, 3.9): r = 100·1.94² + 0.4² + 200·1.4 = 656.52, 800·σ(656.52/500).
  EXPECT_NEAR(ToySurface::Loss(1.4, 3.9), 630.42, 0.01);
}

// Central differences, step 1e-6: truncation ~1e-12·L''' and rounding ~1e-16·800/1e-6 ≈ 1e-7,
// so 1e-5 (relative to the entry's size, at least 1) is a safe bound.
TEST(ToySurfaceTest, GradientAndHessianMatchFiniteDifferences) {
  const ToySurface toy;
  const double h = 1e-6;
  for (const auto& p : {std::array<double, 2>{1.4, 3.9}, {-0.5, 0.3}, {0.2, 2.0}}) {
    std::vector<double> g(2), hvp(2), gp(2), gm(2);
    const std::vector<double> u = {0.3, -0.7};
    toy.GradientAndHvp(p, {}, u, g, hvp, {});
    for (int k = 0; k < 2; ++k) {
      std::array<double, 2> plus = p, minus = p;
      plus[k] += h;
      minus[k] -= h;
      const double fd = (ToySurface::Loss(plus[0], plus[1]) - ToySurface::Loss(minus[0], minus[1])) / (2 * h);
      EXPECT_NEAR(g[k], fd, 1e-5 * std::max(1.0, std::fabs(fd)));
    }
    const std::vector<double> wp = {p[0] + h * u[0], p[1] + h * u[1]};
    const std::vector<double> wm = {p[0] - h * u[0], p[1] - h * u[1]};
    toy.Gradient(wp, {}, gp);
    toy.Gradient(wm, {}, gm);
    for (int k = 0; k < 2; ++k) {
      const double fd = (gp[k] - gm[k]) / (2 * h);
      EXPECT_NEAR(hvp[k], fd, 1e-5 * std::max(1.0, std::fabs(fd)));
    }
  }
}

}  // namespace
}  // namespace hypergrad
