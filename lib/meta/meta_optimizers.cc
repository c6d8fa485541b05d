#include "meta/meta_optimizers.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace hypergrad {
namespace {

void CheckSizes(std::span<const double> g, std::span<double> x, std::vector<double>& state,
                const char* who) {
  if (g.size() != x.size()) {
    throw std::invalid_argument(std::string(who) + ": gradient has " + std::to_string(g.size()) +
                                " values, x " + std::to_string(x.size()));
  }
  if (state.empty()) state.assign(x.size(), 0.0);
  if (state.size() != x.size()) {
    throw std::invalid_argument(std::string(who) + ": x changed size between steps");
  }
}

}  // namespace

void GradientDescent::Step(std::size_t, std::span<const double> g, std::span<double> x) {
  std::vector<double> unused(x.size());
  CheckSizes(g, x, unused, "GradientDescent");
  for (std::size_t k = 0; k < x.size(); ++k) x[k] -= step_ * g[k];
}

void MomentumSgd::Step(std::size_t, std::span<const double> g, std::span<double> x) {
  CheckSizes(g, x, u_, "MomentumSgd");
  for (std::size_t k = 0; k < x.size(); ++k) {
    u_[k] = mass_ * u_[k] - (1.0 - mass_) * g[k];
    x[k] += step_ * u_[k];
  }
}

void AuthorsAdam::Step(std::size_t i, std::span<const double> g, std::span<double> x) {
  CheckSizes(g, x, m_, "AuthorsAdam");
  CheckSizes(g, x, v_, "AuthorsAdam");
  const double lam = 1e-4, b1 = 0.1, b2 = 0.01, eps = 1e-4;
  const double step = static_cast<double>(i);
  const double b1t = 1.0 - (1.0 - b1) * std::pow(lam, step);
  const double m_correction = 1.0 - std::pow(1.0 - b1, step + 1.0);
  const double v_correction = 1.0 - std::pow(1.0 - b2, step + 1.0);
  for (std::size_t k = 0; k < x.size(); ++k) {
    m_[k] = b1t * g[k] + (1.0 - b1t) * m_[k];
    v_[k] = b2 * g[k] * g[k] + (1.0 - b2) * v_[k];
    const double m_hat = m_[k] / m_correction, v_hat = v_[k] / v_correction;
    x[k] -= step_ * m_hat / (std::sqrt(v_hat) + eps);
  }
}

void Adam::Step(std::size_t i, std::span<const double> g, std::span<double> x) {
  CheckSizes(g, x, m_, "Adam");
  CheckSizes(g, x, v_, "Adam");
  const double t = static_cast<double>(i) + 1.0;
  for (std::size_t k = 0; k < x.size(); ++k) {
    m_[k] = beta1_ * m_[k] + (1.0 - beta1_) * g[k];
    v_[k] = beta2_ * v_[k] + (1.0 - beta2_) * g[k] * g[k];
    const double m_hat = m_[k] / (1.0 - std::pow(beta1_, t));
    const double v_hat = v_[k] / (1.0 - std::pow(beta2_, t));
    x[k] -= step_ * m_hat / (std::sqrt(v_hat) + epsilon_);
  }
}

std::unique_ptr<MetaOptimizer> MakeMetaOptimizer(std::string_view name, double step) {
  if (name == "gd") return std::make_unique<GradientDescent>(step);
  if (name == "momentum") return std::make_unique<MomentumSgd>(step, 0.9);
  if (name == "authors-adam") return std::make_unique<AuthorsAdam>(step);
  if (name == "adam") return std::make_unique<Adam>(step);
  throw std::invalid_argument("unknown meta-optimizer '" + std::string(name) +
                              "' (expected gd, momentum, authors-adam or adam)");
}

}  // namespace hypergrad
