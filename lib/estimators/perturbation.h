// The hyperparameter vector that the zeroth-order estimators (es.h, pes.h) perturb, and the
// scale of each coordinate. Coordinates: α (T × B), γ (T × B), w_0 (P), and θ when the problem
// has a make_model (v_0 is not perturbed: it is 0 in every experiment, with no natural scale).
// Perturbations are relative to a scale per coordinate so one σ suits all kinds:
//   α[t][j]: α[t][j];  γ[t][j]: min(γ, 1−γ);  w_0[k]: the RMS of w_0 over k's block (1 if 0);
//   θ_i: max(|θ_i|, RMS of θ) (1 if θ = 0).
// A sample φ + σ·s⊙ε with ε ~ N(0, I) then estimates ∂f/∂φ_i as E[(f(+) − f(−)) ε_i]/(2σ s_i).
#ifndef HYPERGRAD_ESTIMATORS_PERTURBATION_H_
#define HYPERGRAD_ESTIMATORS_PERTURBATION_H_

#include <memory>
#include <vector>

#include "estimators/estimator.h"

namespace hypergrad {

// The σ that es and pes accept: relative to each coordinate's scale, so σ = 1 moves α by 100 %;
// below 1e-10 the difference f+ − f− of two float64 runs is rounding (f has 16 digits).
inline constexpr double kMinSigma = 1e-10, kMaxSigma = 1.0;
// The most antithetic pairs es and pes accept: each costs two training runs.
inline constexpr std::size_t kMaxSamples = 100000;

class PerturbationSpace {
 public:
  explicit PerturbationSpace(const EstimatorProblem& problem);

  std::size_t size() const { return scale_.size(); }
  bool perturbs_theta() const { return perturbs_theta_; }
  const std::vector<double>& scale() const { return scale_; }
  // Offsets of the kinds in the flat vector.
  std::size_t gamma_offset() const { return ab_; }
  std::size_t w0_offset() const { return 2 * ab_; }
  std::size_t theta_offset() const { return 2 * ab_ + p_; }

  // The problem's schedule with φ + sign·σ·s⊙ε applied to α and γ (γ kept inside (0, 1)).
  SgdSchedule PerturbedSchedule(std::span<const double> eps, double sign, double sigma) const;
  // w_0 + sign·σ·s⊙ε.
  std::vector<double> PerturbedW0(std::span<const double> eps, double sign, double sigma) const;
  // The model with θ + sign·σ·s⊙ε (the problem's model when θ is not perturbed).
  std::shared_ptr<const Model> PerturbedModel(std::span<const double> eps, double sign,
                                              double sigma) const;
  // Turns Σ_n (f+ − f−)·ε_n accumulated in `sum` over `pairs` pairs into the estimate
  // sum_i/(2·pairs·σ·s_i), laid out in the estimator's shapes.
  EstimatedHypergradients ToEstimate(std::span<const double> sum, std::size_t pairs,
                                     double sigma) const;

 private:
  const EstimatorProblem& problem_;
  std::size_t ab_ = 0, p_ = 0;
  bool perturbs_theta_ = false;
  std::vector<double> scale_;
};

}  // namespace hypergrad

#endif  // HYPERGRAD_ESTIMATORS_PERTURBATION_H_
