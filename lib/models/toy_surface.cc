#include "models/toy_surface.h"

#include <cmath>

namespace hypergrad {
namespace {

double Rosenbrock(double w0, double w1) {
  return 100.0 * (w1 - w0 * w0) * (w1 - w0 * w0) + (1.0 - w0) * (1.0 - w0) + 200.0 * w0;
}

double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace

double ToySurface::Loss(double w0, double w1) { return 800.0 * Sigmoid(Rosenbrock(w0, w1) / 500.0); }

double ToySurface::Gradient(std::span<const double> w, const Batch& batch,
                            std::span<double> grad) const {
  double unused[2];
  return GradientAndHvp(w, batch, {}, grad, unused, {});
}

double ToySurface::GradientAndHvp(std::span<const double> w, const Batch&,
                                  std::span<const double> u, std::span<double> grad,
                                  std::span<double> hvp, std::span<double>) const {
  const double a = w[0], b = w[1], gap = b - a * a;
  const double s = Sigmoid(Rosenbrock(a, b) / 500.0);
  // dL/dr and d²L/dr² of L = 800·σ(r/500).
  const double d1 = 800.0 / 500.0 * s * (1.0 - s);
  const double d2 = 800.0 / (500.0 * 500.0) * s * (1.0 - s) * (1.0 - 2.0 * s);
  const double r0 = -400.0 * a * gap - 2.0 * (1.0 - a) + 200.0, r1 = 200.0 * gap;
  grad[0] = d1 * r0;
  grad[1] = d1 * r1;
  if (!u.empty()) {
    // ∇²L = d2·∇r∇rᵀ + d1·∇²r.
    const double r00 = -400.0 * gap + 800.0 * a * a + 2.0, r01 = -400.0 * a, r11 = 200.0;
    const double along = r0 * u[0] + r1 * u[1];
    hvp[0] = d2 * r0 * along + d1 * (r00 * u[0] + r01 * u[1]);
    hvp[1] = d2 * r1 * along + d1 * (r01 * u[0] + r11 * u[1]);
  }
  return 800.0 * s;
}

}  // namespace hypergrad
