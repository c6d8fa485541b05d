// Meta-optimizers: update a hyperparameter vector x from its hypergradient g (the authors'
// hypergrad/optimizers.py simple_sgd and adam, and x ← x − step·g). All work in ordinary floating
// point on any vector length.
#ifndef HYPERGRAD_META_META_OPTIMIZERS_H_
#define HYPERGRAD_META_META_OPTIMIZERS_H_

#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace hypergrad {

class MetaOptimizer {
 public:
  virtual ~MetaOptimizer() = default;
  // Applies step i (0, 1, 2, …) with hypergradient g at x, in place. Sizes must stay the same
  // from call to call (std::invalid_argument otherwise).
  virtual void Step(std::size_t i, std::span<const double> g, std::span<double> x) = 0;
};

// x ← x − step·g (Figs 6, 7, 9).
class GradientDescent final : public MetaOptimizer {
 public:
  explicit GradientDescent(double step) : step_(step) {}
  void Step(std::size_t i, std::span<const double> g, std::span<double> x) override;

 private:
  double step_;
};

// u ← mass·u − (1 − mass)·g; x ← x + step·u; u_0 = 0 (Fig 1: step 0.01, mass 0.9).
class MomentumSgd final : public MetaOptimizer {
 public:
  MomentumSgd(double step, double mass) : step_(step), mass_(mass) {}
  void Step(std::size_t i, std::span<const double> g, std::span<double> x) override;

 private:
  double step_, mass_;
  std::vector<double> u_;
};

// Adam as the authors coded it (Figs 2, 3, 5), not textbook Adam: with lam = 1e-4,
// b1t = 1 − 0.9·lam^i; m ← b1t·g + (1 − b1t)·m; v ← 0.01·g² + 0.99·v;
// m̂ = m/(1 − 0.9^(i+1)); v̂ = v/(1 − 0.99^(i+1)); x ← x − step·m̂/(√v̂ + 1e-4).
// Since b1t = 0.1 at i = 0 but ≈ 1 afterwards, m ≈ g from the second step on, while the bias
// correction still inflates steps (5.26× at i = 1).
class AuthorsAdam final : public MetaOptimizer {
 public:
  explicit AuthorsAdam(double step) : step_(step) {}
  void Step(std::size_t i, std::span<const double> g, std::span<double> x) override;

 private:
  double step_;
  std::vector<double> m_, v_;
};

// Textbook Adam (Kingma & Ba): β1 = 0.9, β2 = 0.999, ε = 1e-8, bias-corrected.
class Adam final : public MetaOptimizer {
 public:
  explicit Adam(double step, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8)
      : step_(step), beta1_(beta1), beta2_(beta2), epsilon_(epsilon) {}
  void Step(std::size_t i, std::span<const double> g, std::span<double> x) override;

 private:
  double step_, beta1_, beta2_, epsilon_;
  std::vector<double> m_, v_;
};

// "gd", "momentum" (mass 0.9), "authors-adam", "adam"; std::invalid_argument otherwise.
std::unique_ptr<MetaOptimizer> MakeMetaOptimizer(std::string_view name, double step);

}  // namespace hypergrad

#endif  // HYPERGRAD_META_META_OPTIMIZERS_H_
