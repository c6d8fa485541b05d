// Integer helpers for Algorithm 3: floor division, non-negative modulo, and the rule that turns
// a momentum decay γ (the notes' β) into the ratio n/d that is applied exactly.
#ifndef HYPERGRAD_RATIONAL_H_
#define HYPERGRAD_RATIONAL_H_

#include <bit>
#include <cstdint>

namespace hypergrad {

// Quotient and remainder of floor division: q = ⌊c / m⌋, r = c − q·m ∈ [0, m).
struct FloorDivModResult {
  std::int64_t quotient;
  std::int64_t remainder;
};

// Floor division with a non-negative remainder (Python's divmod) for m > 0. C++'s `/` and `%`
// truncate toward zero and give negative remainders for negative c, which would make the
// momentum multiply irreversible for negative velocities.
inline FloorDivModResult FloorDivMod(std::int64_t c, std::int64_t m) {
  std::int64_t q = c / m;
  std::int64_t r = c % m;
  if (r < 0) {
    r += m;
    --q;
  }
  return {q, r};
}

// FloorDivMod by a fixed m > 0, with a shift and a mask when m is a power of two (the momentum
// denominator is 2^16 for every γ < 1), which is exact for negative c too (arithmetic shift).
class FixedDivisor {
 public:
  explicit FixedDivisor(std::int64_t m)
      : m_(m), shift_(m > 0 && (m & (m - 1)) == 0 ? std::countr_zero(static_cast<std::uint64_t>(m)) : -1) {}
  FloorDivModResult FloorDivMod(std::int64_t c) const {
    if (shift_ >= 0) return {c >> shift_, c & (m_ - 1)};
    return hypergrad::FloorDivMod(c, m_);
  }

 private:
  std::int64_t m_;
  int shift_;
};

// The exactly applied momentum factor n/d (numerator, denominator ≤ 2^16).
struct MomentumRatio {
  std::uint32_t n;
  std::uint32_t d;
  bool operator==(const MomentumRatio&) const = default;
};

// The authors' rule (reference notes §2.1): d = ⌊65536 / ⌊γ + 1⌋⌋, n = trunc(γ·d + 1) computed in
// double, i.e. n = ⌊γ·65536⌋ + 1 for 0 < γ < 1. The applied factor n/d is therefore slightly
// larger than γ (by at most 2^-16): 0.9 → 58983/65536, 0.5 → 32769/65536, 1.01 → 33096/32768;
// γ ≥ 65535/65536 gives n = d (exactly 1). Everything other than the multiply itself
// ((1 − γ)·g, all hypergradients) keeps using the floating-point γ.
// Input: 0 < γ < 65535 (larger values would need a denominator below 2).
// Output: 1 ≤ n ≤ 65536 and 1 ≤ d ≤ 65536.
// Throws std::invalid_argument naming the value if γ is out of range or NaN.
MomentumRatio MomentumToRatio(double gamma);

}  // namespace hypergrad

#endif  // HYPERGRAD_RATIONAL_H_
