// Exact fixed-point numbers: the representation that makes SGD with momentum reversible
// (paper §3; reference notes §1).
//
// A value x is stored as the signed 64-bit integer trunc(x · 2^52), so the representable range
// is |x| < 2048 with resolution 2^-52. Adding a double and later subtracting the *same* double
// restores the exact bits, because trunc(-y) = -trunc(y). Conversion truncates toward zero;
// floor would break that symmetry.
#ifndef HYPERGRAD_FIXED_POINT_H_
#define HYPERGRAD_FIXED_POINT_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace hypergrad {

// Number of fractional bits (the radix is 2^kRadixBits).
inline constexpr int kRadixBits = 52;
// 2^52 as a double: scaling by it is exact.
inline constexpr double kRadix = 4503599627370496.0;
// Values must satisfy |x| < kFixedPointLimit.
inline constexpr double kFixedPointLimit = 2048.0;

// Thrown when a value cannot be represented: |x| ≥ 2048, NaN or ±Inf, either on conversion or
// as the result of an addition. `index()` is the element of the vector (0 for scalars) and
// `value()` the offending real value (the attempted result for an addition).
// Callers that know more (training step, parameter name) catch it and rethrow with
// `WithContext`, so the user learns where training left the representable range.
class FixedPointOverflow : public std::overflow_error {
 public:
  // Message: "fixed-point overflow at element <index>: value <value> is outside ...".
  FixedPointOverflow(std::size_t index, double value);
  std::size_t index() const { return index_; }
  double value() const { return value_; }
  // A copy whose message is "<context>: <this message>".
  FixedPointOverflow WithContext(const std::string& context) const;

 private:
  FixedPointOverflow(std::size_t index, double value, const std::string& what);

  std::size_t index_;
  double value_;
};

// trunc(x · 2^52). Throws FixedPointOverflow (naming `index`) when |x| ≥ 2048 or x is not finite.
std::int64_t ToFixed(double x, std::size_t index = 0);

// The real value of a fixed-point integer (int64 → double rounds to nearest for |x| ≥ 2;
// deterministic, and never used where exactness matters).
inline double ToDouble(std::int64_t i) { return static_cast<double>(i) / kRadix; }

// Element-wise checked i += b for fixed-point integers. Throws FixedPointOverflow naming `index`
// if the sum leaves (-2^63, 2^63), i.e. |value| ≥ 2048.
std::int64_t CheckedAdd(std::int64_t a, std::int64_t b, std::size_t index);

// A vector of fixed-point numbers. All mutating operations are exact and checked: they either
// succeed for every element or throw FixedPointOverflow and leave the vector unchanged.
class FixedPointVector {
 public:
  FixedPointVector() = default;
  // `size` zeros.
  explicit FixedPointVector(std::size_t size) : values_(size, 0) {}
  // Quantises x by truncation toward zero. Throws FixedPointOverflow for |x_i| ≥ 2048 or NaN.
  static FixedPointVector FromDoubles(std::span<const double> x);

  std::size_t size() const { return values_.size(); }

  // this_i += ToFixed(a_i). Sizes must match (std::invalid_argument otherwise).
  void Add(std::span<const double> a);
  // this_i -= ToFixed(a_i); exactly undoes Add(a) for the same doubles a.
  void Sub(std::span<const double> a);
  // this_i += ToFixed(scale_i · a_i), the product formed in double (scale has one entry per
  // element). Exactly undone by SubScaled with the same arguments. `threads` > 1 works on a
  // fixed split of the elements in parallel: the same bits and errors as one thread.
  void AddScaled(std::span<const double> scale, std::span<const double> a, unsigned threads = 1);
  void SubScaled(std::span<const double> scale, std::span<const double> a, unsigned threads = 1);

  double Value(std::size_t i) const { return ToDouble(values_[i]); }
  // The real values, element by element.
  std::vector<double> Values() const;
  void CopyValuesTo(std::span<double> out, unsigned threads = 1) const;

  // The raw integers (units of 2^-52), for the exact momentum multiply and for comparisons.
  std::span<std::int64_t> raw() { return values_; }
  std::span<const std::int64_t> raw() const { return values_; }

  bool operator==(const FixedPointVector&) const = default;

 private:
  // Adds sign · ToFixed(scale_i · a_i) (scale empty means 1), all-or-nothing.
  void AddImpl(std::span<const double> scale, std::span<const double> a, bool negate,
               unsigned threads = 1);

  std::vector<std::int64_t> values_;
};

}  // namespace hypergrad

#endif  // HYPERGRAD_FIXED_POINT_H_
