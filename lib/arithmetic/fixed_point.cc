#include "arithmetic/fixed_point.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <type_traits>
#include <stdexcept>
#include <vector>

#include "runtime/parallel.h"
#include "runtime/step_profile.h"

namespace hypergrad {
namespace {

// 2^63: the first magnitude of x · 2^52 that does not fit in int64.
constexpr double kTwoPow63 = 9223372036854775808.0;

std::string DescribeCause(double value, double limit) {
  std::ostringstream out;
  out.precision(17);
  out << "value " << value;
  if (std::isfinite(value)) {
    out << " is outside the representable range (-" << limit << ", " << limit << ")";
  } else {
    out << " is not a finite number";
  }
  return out.str();
}

}  // namespace

double FixedPointFormat::Limit() const { return std::ldexp(1.0, width - 1 - fraction_bits); }
double FixedPointFormat::Resolution() const { return std::ldexp(1.0, -fraction_bits); }

void FixedPointFormat::Validate() const {
  const bool ok = (width == 64 && fraction_bits == kRadixBits) ||
                  (width == 128 && fraction_bits >= 1 && fraction_bits <= 126);
  if (!ok) {
    throw std::invalid_argument("fixed-point format with " + std::to_string(fraction_bits) +
                                " fraction bits in " + std::to_string(width) +
                                " bits is not available (64 bits with 52, or 128 bits with "
                                "1 to 126)");
  }
}

FixedPointOverflow::FixedPointOverflow(std::size_t index, double value, double limit)
    : FixedPointOverflow(index, value, limit,
                         "fixed-point overflow at element " + std::to_string(index) + ": " +
                             DescribeCause(value, limit)) {}

FixedPointOverflow::FixedPointOverflow(std::size_t index, double value, double limit,
                                       const std::string& what)
    : std::overflow_error(what), index_(index), value_(value), limit_(limit) {}

std::string FixedPointOverflow::Cause() const { return DescribeCause(value_, limit_); }

FixedPointOverflow FixedPointOverflow::WithContext(const std::string& context) const {
  return FixedPointOverflow(index_, value_, limit_, context + ": fixed-point overflow: " + Cause());
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

namespace {

// The unsigned twin of each integer width, and 2^(width−1): the first magnitude of x · 2^R
// that does not fit.
template <class Int>
struct IntTraits;
template <>
struct IntTraits<std::int64_t> {
  using Unsigned = std::uint64_t;
  static constexpr double kTwoPowTop = kTwoPow63;
};
template <>
struct IntTraits<Int128> {
  __extension__ using Unsigned = unsigned __int128;
  static constexpr double kTwoPowTop = 170141183460469231731687303715884105728.0;  // 2^127
};

// One piece of AddTerms' sum (below): raw[i] += ±trunc(term_i · radix) for i in [begin, end),
// term_i = scale_i · a_i (or a_i, scale null), modulo 2^width. Returns whether a term was out
// of range or a sum overflowed (signed: both operands' signs differ from the sum's; the most
// negative integer, exactly −limit, is out of range). Branch-free, the flags gathered in an
// integer: GCC vectorises that reduction, not a bool's.
template <class Int, bool kScaled, bool kNegate>
[[gnu::always_inline]] inline bool AddTermsPiece(typename IntTraits<Int>::Unsigned* raw,
                                                 const double* scale, const double* a,
                                                 std::size_t begin, std::size_t end, double radix) {
  using Unsigned = typename IntTraits<Int>::Unsigned;
  constexpr int kTopBit = 8 * sizeof(Int) - 1;
  constexpr Unsigned kSignBit = Unsigned{1} << kTopBit;
  std::uint64_t bad = 0;
  for (std::size_t i = begin; i < end; ++i) {
    const double scaled = (kScaled ? scale[i] * a[i] : a[i]) * radix;  // exact: a power of two
    const bool ok = std::fabs(scaled) < IntTraits<Int>::kTwoPowTop;     // false for NaN too
    bad |= !ok;
    const auto fixed = static_cast<Unsigned>(static_cast<Int>(ok ? scaled : 0.0));
    const Unsigned before = raw[i], inc = kNegate ? Unsigned{0} - fixed : fixed, sum = before + inc;
    bad |= static_cast<std::uint64_t>(((before ^ sum) & (inc ^ sum)) >> kTopBit);
    bad |= sum == kSignBit;
    raw[i] = sum;
  }
  return bad != 0;
}

template <class Int>
[[gnu::always_inline]] inline bool AddPiece(typename IntTraits<Int>::Unsigned* raw,
                                            const double* scale, const double* a,
                                            std::size_t begin, std::size_t end, double radix,
                                            bool negate) {
  if (scale != nullptr) {
    return negate ? AddTermsPiece<Int, true, true>(raw, scale, a, begin, end, radix)
                  : AddTermsPiece<Int, true, false>(raw, scale, a, begin, end, radix);
  }
  return negate ? AddTermsPiece<Int, false, true>(raw, scale, a, begin, end, radix)
                : AddTermsPiece<Int, false, false>(raw, scale, a, begin, end, radix);
}

// The int64 form, which every training and reverse step runs, compiled also for x86-64-v4:
// AVX-512DQ converts 8 doubles to int64 at once (baseline x86-64 has no packed conversion, so
// there the loop stays scalar); the arithmetic and its rounding are the same in both builds.
[[gnu::target_clones("arch=x86-64-v4", "default")]] bool AddInt64Piece(
    std::uint64_t* raw, const double* scale, const double* a, std::size_t begin, std::size_t end,
    double radix, bool negate) {
  return AddPiece<std::int64_t>(raw, scale, a, begin, end, radix, negate);
}

// out[i] = ToDouble(in[i]) for i in [begin, end): also compiled for x86-64-v4, whose
// AVX-512DQ converts 8 int64 at once (rounding to nearest, as the scalar conversion does).
[[gnu::target_clones("arch=x86-64-v4", "default")]] void Int64ToDoubles(
    const std::int64_t* in, double* out, std::size_t begin, std::size_t end) {
  for (std::size_t i = begin; i < end; ++i) out[i] = ToDouble(in[i]);
}

// values_i += sign · trunc(scale_i · a_i · radix) (scale empty means 1), all-or-nothing, for
// either width. One branch-free pass (for int64 it vectorises): out-of-range terms and
// overflowing sums only raise a flag. Sums wrap modulo 2^width, so on a flag the same
// increments subtracted restore every element exactly; then the first offending element is
// named with `limit`, the format's range.
template <class Int>
void AddTerms(std::span<Int> values, double radix, double limit, std::span<const double> scale,
              std::span<const double> a, bool negate, unsigned threads) {
  const StepPieceTimer timer(StepPiece::kFixedPointAdds);
  using Unsigned = typename IntTraits<Int>::Unsigned;
  constexpr double kTop = IntTraits<Int>::kTwoPowTop;
  constexpr Unsigned kSignBit = Unsigned{1} << (8 * sizeof(Int) - 1);
  if (a.size() != values.size() || (!scale.empty() && scale.size() != values.size())) {
    throw std::invalid_argument("FixedPointVector: size mismatch (vector has " +
                                std::to_string(values.size()) + " elements, operand " +
                                std::to_string(a.size()) + ", scale " +
                                std::to_string(scale.size()) + ")");
  }
  const std::size_t n = values.size();
  const double* scale_data = scale.empty() ? nullptr : scale.data();
  auto term_at = [&](std::size_t i) { return scale_data ? scale_data[i] * a[i] : a[i]; };
  auto increment = [&](std::size_t i, bool& bad) {
    const double scaled = term_at(i) * radix;  // exact: scaling by a power of two
    const bool ok = std::fabs(scaled) < kTop;  // false for NaN too
    bad |= !ok;
    const auto fixed = static_cast<Unsigned>(static_cast<Int>(ok ? scaled : 0.0));
    return negate ? Unsigned{0} - fixed : fixed;
  };
  Unsigned* raw = reinterpret_cast<Unsigned*>(values.data());
  auto add = [&](Chunk piece) {
    if constexpr (std::is_same_v<Int, std::int64_t>) {
      return AddInt64Piece(raw, scale_data, a.data(), piece.begin, piece.end, radix, negate);
    } else {
      return AddPiece<Int>(raw, scale_data, a.data(), piece.begin, piece.end, radix, negate);
    }
  };
  auto undo = [&](Chunk piece) {
    bool ignored = false;
    for (std::size_t i = piece.begin; i < piece.end; ++i) raw[i] -= increment(i, ignored);
  };
  const std::vector<Chunk> pieces = ElementPieces(n, threads);
  std::vector<unsigned char> bad(pieces.size(), 0);
  ParallelFor(pieces.size(), threads, [&](std::size_t j) { bad[j] = add(pieces[j]); });
  if (std::find(bad.begin(), bad.end(), 1) == bad.end()) return;
  ParallelFor(pieces.size(), threads, [&](std::size_t j) { undo(pieces[j]); });
  for (std::size_t i = 0; i < n; ++i) {
    const double term = term_at(i);
    bool out_of_range = false;
    const Unsigned inc = increment(i, out_of_range);
    if (out_of_range) throw FixedPointOverflow(i, negate ? -term : term, limit);
    const Unsigned sum = raw[i] + inc;
    if (static_cast<Int>((raw[i] ^ sum) & (inc ^ sum)) < 0 || sum == kSignBit) {
      const double before = static_cast<double>(values[i]) / radix;
      throw FixedPointOverflow(i, before + (negate ? -term : term), limit);
    }
  }
  throw std::logic_error("FixedPointVector: an overflow was flagged but not found");
}

}  // namespace

FixedPointVector FixedPointVector::FromDoubles(std::span<const double> x) {
  FixedPointVector result(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) result.values_[i] = ToFixed(x[i], i);
  return result;
}

void FixedPointVector::Add(std::span<const double> a) { AddImpl({}, a, false); }
void FixedPointVector::Sub(std::span<const double> a) { AddImpl({}, a, true); }
void FixedPointVector::AddScaled(std::span<const double> scale, std::span<const double> a,
                                 unsigned threads) {
  AddImpl(scale, a, false, threads);
}
void FixedPointVector::SubScaled(std::span<const double> scale, std::span<const double> a,
                                 unsigned threads) {
  AddImpl(scale, a, true, threads);
}

void FixedPointVector::AddImpl(std::span<const double> scale, std::span<const double> a,
                               bool negate, unsigned threads) {
  AddTerms<std::int64_t>(values_, kRadix, kFixedPointLimit, scale, a, negate, threads);
}

std::vector<double> FixedPointVector::Values() const {
  std::vector<double> out(values_.size());
  CopyValuesTo(out);
  return out;
}

void FixedPointVector::CopyValuesTo(std::span<double> out, unsigned threads) const {
  const StepPieceTimer timer(StepPiece::kFixedPointToDouble);
  if (out.size() != values_.size()) {
    throw std::invalid_argument("FixedPointVector::CopyValuesTo: size mismatch");
  }
  const std::vector<Chunk> pieces = ElementPieces(values_.size(), threads);
  ParallelFor(pieces.size(), threads, [&](std::size_t j) {
    Int64ToDoubles(values_.data(), out.data(), pieces[j].begin, pieces[j].end);
  });
}

}  // namespace hypergrad

namespace hypergrad {

WideFixedPointVector::WideFixedPointVector(std::size_t size, int fraction_bits)
    : values_(size, 0), fraction_bits_(fraction_bits) {
  FixedPointFormat{fraction_bits, 128}.Validate();
  radix_ = std::ldexp(1.0, fraction_bits);
  unit_ = std::ldexp(1.0, -fraction_bits);
}

WideFixedPointVector WideFixedPointVector::FromDoubles(std::span<const double> x,
                                                       int fraction_bits) {
  WideFixedPointVector result(x.size(), fraction_bits);
  result.AddScaled({}, x);
  return result;
}

void WideFixedPointVector::AddScaled(std::span<const double> scale, std::span<const double> a,
                                     unsigned threads) {
  AddTerms<Int128>(values_, radix_, format().Limit(), scale, a, false, threads);
}

void WideFixedPointVector::SubScaled(std::span<const double> scale, std::span<const double> a,
                                     unsigned threads) {
  AddTerms<Int128>(values_, radix_, format().Limit(), scale, a, true, threads);
}

std::vector<double> WideFixedPointVector::Values() const {
  std::vector<double> out(values_.size());
  CopyValuesTo(out);
  return out;
}

void WideFixedPointVector::CopyValuesTo(std::span<double> out, unsigned threads) const {
  const StepPieceTimer timer(StepPiece::kFixedPointToDouble);
  if (out.size() != values_.size()) {
    throw std::invalid_argument("WideFixedPointVector::CopyValuesTo: size mismatch");
  }
  const std::vector<Chunk> pieces = ElementPieces(values_.size(), threads);
  ParallelFor(pieces.size(), threads, [&](std::size_t j) {
    for (std::size_t i = pieces[j].begin; i < pieces[j].end; ++i) out[i] = Value(i);
  });
}

MomentVector MomentVector::FromDoubles(std::span<const double> x, FixedPointFormat format) {
  format.Validate();
  if (format.width == 64) return FixedPointVector::FromDoubles(x);
  return WideFixedPointVector::FromDoubles(x, format.fraction_bits);
}

FixedPointFormat MomentVector::format() const {
  return std::visit([](const auto& v) -> FixedPointFormat {
    if constexpr (std::is_same_v<std::decay_t<decltype(v)>, FixedPointVector>) {
      return kPositionFormat;
    } else {
      return v.format();
    }
  }, values_);
}

std::size_t MomentVector::size() const {
  return std::visit([](const auto& v) { return v.size(); }, values_);
}

std::size_t MomentVector::Bytes() const {
  return std::visit([](const auto& v) { return v.size() * sizeof(v.raw()[0]); }, values_);
}

void MomentVector::AddScaled(std::span<const double> scale, std::span<const double> a,
                             unsigned threads) {
  std::visit([&](auto& v) { v.AddScaled(scale, a, threads); }, values_);
}

void MomentVector::SubScaled(std::span<const double> scale, std::span<const double> a,
                             unsigned threads) {
  std::visit([&](auto& v) { v.SubScaled(scale, a, threads); }, values_);
}

std::vector<double> MomentVector::Values() const {
  return std::visit([](const auto& v) { return v.Values(); }, values_);
}

void MomentVector::CopyValuesTo(std::span<double> out, unsigned threads) const {
  std::visit([&](const auto& v) { v.CopyValuesTo(out, threads); }, values_);
}

}  // namespace hypergrad
