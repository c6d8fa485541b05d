#include "fixed_point.h"

#include <cmath>
#include <limits>
#include <sstream>

namespace hypergrad {
namespace {

// 2^63: the first magnitude of x · 2^52 that does not fit in int64.
constexpr double kTwoPow63 = 9223372036854775808.0;

std::string DescribeOverflow(std::size_t index, double value) {
  std::ostringstream out;
  out.precision(17);
  out << "fixed-point overflow at element " << index << ": value " << value
      << " is outside the representable range (-2048, 2048)";
  return out.str();
}

}  // namespace

FixedPointOverflow::FixedPointOverflow(std::size_t index, double value)
    : FixedPointOverflow(index, value, DescribeOverflow(index, value)) {}

FixedPointOverflow::FixedPointOverflow(std::size_t index, double value, const std::string& what)
    : std::overflow_error(what), index_(index), value_(value) {}

FixedPointOverflow FixedPointOverflow::WithContext(const std::string& context) const {
  return FixedPointOverflow(index_, value_, context + ": " + what());
}

std::int64_t ToFixed(double x, std::size_t index) {
  const double scaled = x * kRadix;  // exact: scaling by a power of two
  // The negated comparison also rejects NaN.
  if (!(std::fabs(scaled) < kTwoPow63)) {
    throw FixedPointOverflow(index, x);
  }
  return static_cast<std::int64_t>(scaled);  // truncates toward zero
}

std::int64_t CheckedAdd(std::int64_t a, std::int64_t b, std::size_t index) {
  std::int64_t sum;
  // INT64_MIN is -2048 exactly, outside |x| < 2048; rejecting it also keeps negation safe.
  if (__builtin_add_overflow(a, b, &sum) || sum == std::numeric_limits<std::int64_t>::min()) {
    throw FixedPointOverflow(index, ToDouble(a) + ToDouble(b));
  }
  return sum;
}

FixedPointVector FixedPointVector::FromDoubles(std::span<const double> x) {
  FixedPointVector result(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) result.values_[i] = ToFixed(x[i], i);
  return result;
}

void FixedPointVector::Add(std::span<const double> a) { AddImpl({}, a, false); }
void FixedPointVector::Sub(std::span<const double> a) { AddImpl({}, a, true); }
void FixedPointVector::AddScaled(std::span<const double> scale, std::span<const double> a) {
  AddImpl(scale, a, false);
}
void FixedPointVector::SubScaled(std::span<const double> scale, std::span<const double> a) {
  AddImpl(scale, a, true);
}

void FixedPointVector::AddImpl(std::span<const double> scale, std::span<const double> a,
                               bool negate) {
  if (a.size() != values_.size() || (!scale.empty() && scale.size() != values_.size())) {
    throw std::invalid_argument("FixedPointVector: size mismatch (vector has " +
                                std::to_string(values_.size()) + " elements, operand " +
                                std::to_string(a.size()) + ", scale " +
                                std::to_string(scale.size()) + ")");
  }
  auto increment = [&](std::size_t i) {
    const double term = scale.empty() ? a[i] : scale[i] * a[i];
    const std::int64_t fixed = ToFixed(term, i);
    return negate ? -fixed : fixed;  // |fixed| < 2^63, so negation is safe
  };
  std::size_t i = 0;
  try {
    for (; i < values_.size(); ++i) values_[i] = CheckedAdd(values_[i], increment(i), i);
  } catch (const FixedPointOverflow&) {
    // All-or-nothing: undo the elements already updated (the increments recompute bit for bit).
    for (std::size_t j = 0; j < i; ++j) values_[j] -= increment(j);
    throw;
  }
}

std::vector<double> FixedPointVector::Values() const {
  std::vector<double> out(values_.size());
  CopyValuesTo(out);
  return out;
}

void FixedPointVector::CopyValuesTo(std::span<double> out) const {
  if (out.size() != values_.size()) {
    throw std::invalid_argument("FixedPointVector::CopyValuesTo: size mismatch");
  }
  for (std::size_t i = 0; i < values_.size(); ++i) out[i] = ToDouble(values_[i]);
}

}  // namespace hypergrad
