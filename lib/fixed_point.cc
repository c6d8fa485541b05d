#include "fixed_point.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "parallel.h"

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
  if (a.size() != values_.size() || (!scale.empty() && scale.size() != values_.size())) {
    throw std::invalid_argument("FixedPointVector: size mismatch (vector has " +
                                std::to_string(values_.size()) + " elements, operand " +
                                std::to_string(a.size()) + ", scale " +
                                std::to_string(scale.size()) + ")");
  }
  // One branch-free pass (it vectorises): out-of-range terms and overflowing sums only raise a
  // flag. Sums wrap modulo 2^64, so on a flag the same increments subtracted restore every
  // element exactly (all-or-nothing); then the first offending element is named.
  const std::size_t n = values_.size();
  const double* scale_data = scale.empty() ? nullptr : scale.data();
  auto term_at = [&](std::size_t i) { return scale_data ? scale_data[i] * a[i] : a[i]; };
  auto increment = [&](std::size_t i, bool& bad) {
    const double scaled = term_at(i) * kRadix;  // exact: scaling by a power of two
    const bool ok = std::fabs(scaled) < kTwoPow63;  // false for NaN too
    bad |= !ok;
    const auto fixed = static_cast<std::uint64_t>(static_cast<std::int64_t>(ok ? scaled : 0.0));
    return negate ? std::uint64_t{0} - fixed : fixed;
  };
  std::uint64_t* raw = reinterpret_cast<std::uint64_t*>(values_.data());
  auto add = [&](Chunk piece) {
    bool bad = false;
    for (std::size_t i = piece.begin; i < piece.end; ++i) {
      const std::uint64_t before = raw[i], inc = increment(i, bad), sum = before + inc;
      // Signed overflow: both operands' signs differ from the sum's; INT64_MIN is out of range.
      bad |= static_cast<std::int64_t>((before ^ sum) & (inc ^ sum)) < 0;
      bad |= sum == (std::uint64_t{1} << 63);
      raw[i] = sum;
    }
    return bad;
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
    const std::int64_t fixed = ToFixed(term, i);  // throws for the first out-of-range term
    CheckedAdd(values_[i], negate ? -fixed : fixed, i);  // throws for the first overflowing sum
  }
  throw std::logic_error("FixedPointVector: an overflow was flagged but not found");
}

std::vector<double> FixedPointVector::Values() const {
  std::vector<double> out(values_.size());
  CopyValuesTo(out);
  return out;
}

void FixedPointVector::CopyValuesTo(std::span<double> out, unsigned threads) const {
  if (out.size() != values_.size()) {
    throw std::invalid_argument("FixedPointVector::CopyValuesTo: size mismatch");
  }
  const std::vector<Chunk> pieces = ElementPieces(values_.size(), threads);
  ParallelFor(pieces.size(), threads, [&](std::size_t j) {
    for (std::size_t i = pieces[j].begin; i < pieces[j].end; ++i) out[i] = ToDouble(values_[i]);
  });
}

}  // namespace hypergrad
