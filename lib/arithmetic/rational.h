// Integer helpers for Algorithm 3: floor division, non-negative modulo, and the rule that turns
// a decay (SGD's momentum γ, β in the authors' code; Adam's β1, β2; RMSprop's ρ, μ) into the
// ratio n/d that is applied exactly.
#ifndef HYPERGRAD_ARITHMETIC_RATIONAL_H_
#define HYPERGRAD_ARITHMETIC_RATIONAL_H_

#include <bit>
#include <cstdint>
#include <string>

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

// ⌊x / d⌋ for unsigned 64-bit x by a divisor 1 ≤ d < 2^32 fixed in advance, without a division
// instruction or a branch (Granlund & Montgomery's method with a 65-bit reciprocal):
// q = (⌊(x − t)/2^a⌋ + t) >> b with t = ⌊x·magic / 2^64⌋. For d not a power of two, a = 1,
// b = ℓ − 1, ℓ = ⌈log2 d⌉ and 2^64 + magic = ⌈2^(64+ℓ)/d⌉: exact for every x, as the
// reciprocal's excess e = (2^64 + magic)·d − 2^(64+ℓ) is below d ≤ 2^ℓ, so x·e < 2^(64+ℓ) never
// reaches the next integer. For d = 2^k, magic = 0 (t = 0) and a + b = k: a shift. Prepared once
// per divisor (the radices of a run are a handful of momentum ratios).
class UnsignedDivisor {
 public:
  explicit UnsignedDivisor(std::uint64_t d = 1) : d_(d) {
    if ((d & (d - 1)) == 0) {
      const int k = std::countr_zero(d);
      pre_shift_ = k > 0 ? 1 : 0;
      post_shift_ = k - pre_shift_;
      return;
    }
    const int ell = 64 - std::countl_zero(d);
    __extension__ using U128 = unsigned __int128;
    const U128 reciprocal = (U128{1} << (64 + ell)) / d + 1;  // ⌈2^(64+ℓ)/d⌉, d ∤ 2^(64+ℓ)
    magic_ = static_cast<std::uint64_t>(reciprocal);          // minus the 2^64 bit
    pre_shift_ = 1;
    post_shift_ = ell - 1;
  }
  std::uint64_t divisor() const { return d_; }
  // `b` if pick, else `a`, by bit masks: for a data-dependent choice that is a coin flip, which
  // GCC compiles to a mispredicted branch when written as a conditional.
  [[gnu::always_inline]] static UnsignedDivisor Blend(const UnsignedDivisor& a,
                                                      const UnsignedDivisor& b, bool pick) {
    const std::uint64_t mask = 0 - std::uint64_t{pick};
    const auto narrow = static_cast<int>(mask);
    UnsignedDivisor out;
    out.d_ = a.d_ ^ ((a.d_ ^ b.d_) & mask);
    out.magic_ = a.magic_ ^ ((a.magic_ ^ b.magic_) & mask);
    out.pre_shift_ = a.pre_shift_ ^ ((a.pre_shift_ ^ b.pre_shift_) & narrow);
    out.post_shift_ = a.post_shift_ ^ ((a.post_shift_ ^ b.post_shift_) & narrow);
    return out;
  }
  [[gnu::always_inline]] std::uint64_t Divide(std::uint64_t x) const {
    __extension__ using U128 = unsigned __int128;
    const auto t = static_cast<std::uint64_t>((U128{x} * magic_) >> 64);
    return (((x - t) >> pre_shift_) + t) >> post_shift_;
  }

 private:
  std::uint64_t d_;
  std::uint64_t magic_ = 0;
  int pre_shift_ = 0, post_shift_ = 0;
};

// FloorDivMod by a fixed m (1 ≤ m < 2^32) without a division instruction: a shift and a mask
// for a power of two; otherwise, since floor division of a
// negative c is −1 − ⌊(−c − 1)/m⌋, and −c − 1 = ~c, so one unsigned division of c or ~c serves
// both signs (the xor with the sign mask picks, branch-free). Exact for every int64 c.
class FixedDivisor {
 public:
  explicit FixedDivisor(std::int64_t m)
      : divide_(static_cast<std::uint64_t>(m)), m_(m),
        shift_((m & (m - 1)) == 0 ? std::countr_zero(static_cast<std::uint64_t>(m)) : -1) {}
  [[gnu::always_inline]] FloorDivModResult FloorDivMod(std::int64_t c) const {
    if (shift_ >= 0) return {c >> shift_, c & (m_ - 1)};  // arithmetic shift: floor for c < 0
    const std::int64_t sign = c >> 63;  // 0 or −1 (all ones)
    const auto q = static_cast<std::int64_t>(divide_.Divide(static_cast<std::uint64_t>(c ^ sign))) ^ sign;
    // q·m alone may leave int64 (c near −2^63, m = 3); the remainder is exact modulo 2^64.
    const std::uint64_t r = static_cast<std::uint64_t>(c) - static_cast<std::uint64_t>(q) * static_cast<std::uint64_t>(m_);
    return {q, static_cast<std::int64_t>(r)};
  }

 private:
  UnsignedDivisor divide_;
  std::int64_t m_;
  int shift_;  // log2 m for a power of two (the momentum denominator 2^16), else −1
};

// The exactly applied factor n/d of a decay (SGD's γ, Adam's β1, β2, RMSprop's ρ, μ; numerator,
// denominator ≤ 2^16).
struct DecayRatio {
  std::uint32_t n;
  std::uint32_t d;
  bool operator==(const DecayRatio&) const = default;
};

// The authors' rule (float_to_rational, hypergrad/exact_rep.py): d = ⌊65536 / ⌊γ + 1⌋⌋, n =
// trunc(γ·d + 1) computed in double, i.e. n = ⌊γ·65536⌋ + 1 for 0 < γ < 1. The applied factor n/d
// is therefore slightly larger than γ (by at most 2^-16): 0.9 → 58983/65536, 0.5 → 32769/65536,
// 1.01 → 33096/32768; γ ≥ 65535/65536 gives n = d (exactly 1). Everything other than the multiply
// itself ((1 − γ)·g, all hypergradients) keeps using the floating-point γ.
// Input: 0 < γ < 65535 (larger values would need a denominator below 2).
// Output: 1 ≤ n ≤ 65536 and 1 ≤ d ≤ 65536.
// Throws std::invalid_argument naming the value if γ is out of range or NaN.
DecayRatio DecayToRatio(double gamma);

// The one range of a decay that training accepts, at every entry point (the command-line tools'
// --gamma, --beta1, --beta2, --rho, --mu and the Python module's schedules and momentum_ratio):
// SGD's momentum γ, Adam's β1, β2 and RMSprop's ρ, μ must lie in [kMinDecay, kMaxDecay]. γ ≥ 1
// makes the velocity grow instead of decay (the weights leave the fixed-point range); γ ≤ 0 has no
// ratio n/d. Inside the range DecayToRatio gives 1 ≤ n ≤ d = 65536: 1e-6 → 1/65536 and 0.999999
// → 65536/65536.
inline constexpr double kMinDecay = 1e-6;
inline constexpr double kMaxDecay = 0.999999;

// Throws std::invalid_argument "<what> = <decay> is outside [1e-06, 0.999999]" unless
// kMinDecay ≤ decay ≤ kMaxDecay (NaN is outside). `what` names the entry, e.g.
// "gamma at iteration 3, block 0".
void CheckDecay(double decay, const std::string& what);

}  // namespace hypergrad

#endif  // HYPERGRAD_ARITHMETIC_RATIONAL_H_
