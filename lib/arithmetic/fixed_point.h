// Exact fixed-point numbers: the representation that makes SGD with momentum (paper §3), Adam and
// RMSprop reversible.
//
// A value x is stored as the signed 64-bit integer trunc(x · 2^52), so the representable range
// is |x| < 2048 with resolution 2^-52. Adding a double and later subtracting the *same* double
// restores the exact bits, because trunc(-y) = -trunc(y). Conversion truncates toward zero;
// floor would break that symmetry.
//
// The same holds on any grid 2^-R in any integer width. An optimizer whose moments need a finer
// grid than w's (Adam's s ≈ (1−β2)·g² is ~1e-27 for |g| = 1e-12) declares a FixedPointFormat
// for them; WideFixedPointVector holds such values in GCC's signed 128-bit integers, and
// MomentVector holds either kind so that the trajectories serve every optimizer while w and
// SGD's velocity keep the 64-bit path.
#ifndef HYPERGRAD_ARITHMETIC_FIXED_POINT_H_
#define HYPERGRAD_ARITHMETIC_FIXED_POINT_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace hypergrad {

// Number of fractional bits (the radix is 2^kRadixBits).
inline constexpr int kRadixBits = 52;
// 2^52 as a double: scaling by it is exact.
inline constexpr double kRadix = 4503599627370496.0;
// Values must satisfy |x| < kFixedPointLimit.
inline constexpr double kFixedPointLimit = 2048.0;

// __int128 is a GCC/Clang extension (the project builds with GCC); `__extension__` keeps
// -Wpedantic quiet about it.
__extension__ using Int128 = __int128;

// Where a fixed-point vector's values live: the integers trunc(x · 2^fraction_bits) in a signed
// integer of `width` bits, so |x| < Limit() = 2^(width − 1 − fraction_bits) with resolution
// 2^−fraction_bits. Two widths exist: 64 (FixedPointVector, always 52 fraction bits) and 128
// (WideFixedPointVector, 1 … 126 fraction bits).
struct FixedPointFormat {
  int fraction_bits = 52;
  int width = 64;

  double Limit() const;
  double Resolution() const;
  // Throws std::invalid_argument unless the format is one of the two above.
  void Validate() const;
  bool operator==(const FixedPointFormat&) const = default;
};
// w's format (and SGD's velocity's): int64, radix 2^52, |x| < 2048.
inline constexpr FixedPointFormat kPositionFormat{};

// Thrown when a value cannot be represented: |x| ≥ limit(), NaN or ±Inf, either on conversion or
// as the result of an addition. `index()` is the element of the vector (0 for scalars) and
// `value()` the offending real value (the attempted result for an addition).
// Callers that know more (training step, parameter name) catch it and rethrow with
// `WithContext`, which replaces the element index by what they know, so the user learns where
// training left the representable range and why.
class FixedPointOverflow : public std::overflow_error {
 public:
  // Message: "fixed-point overflow at element <index>: value <value> is outside the
  // representable range (-<limit>, <limit>)", or "... value nan is not a finite number".
  FixedPointOverflow(std::size_t index, double value, double limit = kFixedPointLimit);
  std::size_t index() const { return index_; }
  double value() const { return value_; }
  double limit() const { return limit_; }
  // What went wrong, without the element: "value 2113.5 is outside the representable range
  // (-2048, 2048)" or "value nan is not a finite number".
  std::string Cause() const;
  // A copy (same index and value) whose message is "<context>: fixed-point overflow: <Cause()>";
  // the context names the element (its parameter and state), so the index is left out.
  FixedPointOverflow WithContext(const std::string& context) const;

 private:
  FixedPointOverflow(std::size_t index, double value, double limit, const std::string& what);

  std::size_t index_;
  double value_;
  double limit_;
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

// A vector of fixed-point numbers in 128-bit integers with `fraction_bits` R fraction bits:
// |x| < 2^(127 − R), resolution 2^−R. The same exact, checked, all-or-nothing operations as
// FixedPointVector. Conversion to double is the correctly rounded int128 → double cast scaled
// by 2^−R (exact: a power of two, no underflow for R ≤ 126); from double, trunc(x · 2^R).
class WideFixedPointVector {
 public:
  WideFixedPointVector() = default;
  // `size` zeros. Throws std::invalid_argument unless 1 ≤ fraction_bits ≤ 126.
  WideFixedPointVector(std::size_t size, int fraction_bits);
  // trunc(x_i · 2^R). Throws FixedPointOverflow (naming the element) for |x_i| ≥ the limit or
  // a value that is not finite.
  static WideFixedPointVector FromDoubles(std::span<const double> x, int fraction_bits);

  std::size_t size() const { return values_.size(); }
  FixedPointFormat format() const { return {fraction_bits_, 128}; }

  // this_i ± trunc(scale_i · a_i · 2^R), as FixedPointVector::AddScaled / SubScaled.
  void AddScaled(std::span<const double> scale, std::span<const double> a, unsigned threads = 1);
  void SubScaled(std::span<const double> scale, std::span<const double> a, unsigned threads = 1);

  double Value(std::size_t i) const { return static_cast<double>(values_[i]) * unit_; }
  std::vector<double> Values() const;
  void CopyValuesTo(std::span<double> out, unsigned threads = 1) const;

  // The raw integers (units of 2^−R), for Algorithm 3 and comparisons.
  std::span<Int128> raw() { return values_; }
  std::span<const Int128> raw() const { return values_; }

  bool operator==(const WideFixedPointVector& other) const {
    return fraction_bits_ == other.fraction_bits_ && values_ == other.values_;
  }

 private:
  std::vector<Int128> values_;
  int fraction_bits_ = 116;
  double radix_ = 0.0, unit_ = 0.0;  // 2^R and 2^−R
};

// An optimizer's moment vector in the format it declared (exact_optimizer.h): a 64-bit
// FixedPointVector (SGD's velocity) or a WideFixedPointVector (Adam's and RMSprop's m and s). The
// operations dispatch once per vector, so the 64-bit path costs what FixedPointVector's does.
class MomentVector {
 public:
  MomentVector() = default;
  MomentVector(FixedPointVector v) : values_(std::move(v)) {}
  MomentVector(WideFixedPointVector v) : values_(std::move(v)) {}
  // x quantised in `format` (FixedPointFormat::Validate's rules; FixedPointOverflow naming the
  // element for a value out of range).
  static MomentVector FromDoubles(std::span<const double> x, FixedPointFormat format);

  FixedPointFormat format() const;
  std::size_t size() const;
  // Bytes of the integers (8 or 16 per value).
  std::size_t Bytes() const;
  void AddScaled(std::span<const double> scale, std::span<const double> a, unsigned threads = 1);
  void SubScaled(std::span<const double> scale, std::span<const double> a, unsigned threads = 1);
  std::vector<double> Values() const;
  void CopyValuesTo(std::span<double> out, unsigned threads = 1) const;

  std::variant<FixedPointVector, WideFixedPointVector>& values() { return values_; }
  const std::variant<FixedPointVector, WideFixedPointVector>& values() const { return values_; }
  bool operator==(const MomentVector&) const = default;

 private:
  std::variant<FixedPointVector, WideFixedPointVector> values_;
};

}  // namespace hypergrad

#endif  // HYPERGRAD_ARITHMETIC_FIXED_POINT_H_
