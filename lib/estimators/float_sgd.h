// The float64 training run that the approximate estimators differentiate: SGD with momentum as
// the paper's Algorithm 1, in floating point (the fixed-point run of reversible_sgd.h differs by
// its rounding, 2^-52 absolute per value per step: about 1e-11 per step for the Fig-2 network).
#ifndef HYPERGRAD_ESTIMATORS_FLOAT_SGD_H_
#define HYPERGRAD_ESTIMATORS_FLOAT_SGD_H_

#include <span>

#include "models/model.h"
#include "optimizers/reversible_sgd.h"

namespace hypergrad {

// One step t: g = ∇_w L(w, θ; batch), v ← r_t v − (1−γ_t) g, w ← w + α_t v (new v), α_t and γ_t
// of each parameter's block, r_t = n/d = DecayToRatio(γ_t) the factor the fixed-point run
// applies exactly ((⌊γ·2^16⌋ + 1)/2^16 for 0 < γ < 1, above γ by at most 2^-16, rational.h), so
// that the float64 run is the exact run's map up to rounding. Derivatives with respect to γ
// treat the factor as γ, as the exact reverse pass does (reversible_sgd.h). Writes g into `grad` (size P, scratch the caller owns) and
// returns the batch loss L(w_t). Sizes are the caller's contract (unchecked).
double FloatSgdStep(const Model& model, const ParameterBlocks& blocks, const SgdSchedule& schedule,
                    std::size_t t, const Batch& batch, std::span<double> w, std::span<double> v,
                    std::span<double> grad);

// The factor r_t of each block at step t (B values).
void AppliedMomentum(const SgdSchedule& schedule, std::size_t t, std::span<double> ratio);

// Steps t = first … last−1 in place on (w, v). Throws std::runtime_error naming the step if a
// weight becomes non-finite (a diverged run, e.g. an ES sample with too large a rate).
void FloatSgdTrain(const Model& model, const ParameterBlocks& blocks, const SgdSchedule& schedule,
                   const BatchSchedule& batches, std::size_t first, std::size_t last,
                   std::span<double> w, std::span<double> v);

}  // namespace hypergrad

#endif  // HYPERGRAD_ESTIMATORS_FLOAT_SGD_H_
