#include "exact_momentum.h"

#include <limits>
#include <stdexcept>
#include <string>

#include "ans_buffer.h"
#include "exact_buffer.h"

namespace hypergrad {
namespace {

// Any other InfoBuffer implementation, through its checked virtual interface.
struct VirtualBuffer {
  InfoBuffer& buffer;
  static std::uint32_t Prepare(std::uint32_t radix) { return radix; }
  void PushUnchecked(std::size_t i, std::uint32_t digit, std::uint32_t radix) {
    buffer.Push(i, digit, radix);
  }
  std::uint32_t PopUnchecked(std::size_t i, std::uint32_t radix) { return buffer.Pop(i, radix); }
};

// The factor n/d prepared once for a run of elements: the buffer's radices and the divisor.
template <class Buffer>
struct Factor {
  Factor(std::uint32_t numerator, std::uint32_t denominator)
      : n(numerator), d(denominator), radix_n(Buffer::Prepare(n)), radix_d(Buffer::Prepare(d)),
        divide_by_d(d) {}
  std::uint32_t n, d;
  decltype(Buffer::Prepare(1u)) radix_n, radix_d;
  FixedDivisor divide_by_d;
};

// Algorithm 3 on element i: c ← c · n / d. Returns false, with c and the buffer unchanged, if
// the result would not be representable. ⌊c/d⌋·n + digit is formed in 128 bits and only the
// result is checked: ⌊c/d⌋·n alone may leave int64 when the digit brings it back (the exact
// inverse of a multiply near −2048 does).
template <class Buffer>
inline bool RationalMultiplyElement(std::int64_t& c, std::size_t i, const Factor<Buffer>& f,
                                    Buffer& buffer) {
  __extension__ using Int128 = __int128;
  const auto [quotient, remainder] = f.divide_by_d.FloorDivMod(c);
  buffer.PushUnchecked(i, static_cast<std::uint32_t>(remainder), f.radix_d);
  const std::uint32_t digit = buffer.PopUnchecked(i, f.radix_n);
  const Int128 result = Int128{quotient} * f.n + digit;
  if (result <= std::numeric_limits<std::int64_t>::min() ||
      result > std::numeric_limits<std::int64_t>::max()) {
    buffer.PushUnchecked(i, digit, f.radix_n);  // undo the pop, then the push
    buffer.PopUnchecked(i, f.radix_d);
    return false;
  }
  c = static_cast<std::int64_t>(result);
  return true;
}

template <class Buffer>
void ApplyRatios(std::span<std::int64_t> c, std::span<const MomentumRatio> ratios, bool inverse,
                 Buffer& buffer) {
  if (c.empty()) return;
  const bool broadcast = ratios.size() == 1;
  auto ratio_at = [&](std::size_t i) { return ratios[broadcast ? 0 : i]; };
  auto factor = [](const MomentumRatio& r, bool invert) {
    return invert ? Factor<Buffer>(r.d, r.n) : Factor<Buffer>(r.n, r.d);
  };
  // Ratios come in runs (one per parameter block): prepare a factor when the ratio changes.
  MomentumRatio current = ratio_at(0);
  Factor<Buffer> f = factor(current, inverse);
  for (std::size_t i = 0; i < c.size(); ++i) {
    const MomentumRatio r = ratio_at(i);
    if (r.n != current.n || r.d != current.d) {
      current = r;
      f = factor(r, inverse);
    }
    if (!RationalMultiplyElement(c[i], i, f, buffer)) {
      const double value = ToDouble(c[i]) * f.n / f.d;
      // All-or-nothing: undo the elements already done. Each is exactly invertible and its
      // inverse lands on a value that was representable, so an undo cannot fail; if one did,
      // v and the buffer would no longer be what the caller had, so say so loudly.
      for (std::size_t j = i; j-- > 0;) {
        if (!RationalMultiplyElement(c[j], j, factor(ratio_at(j), !inverse), buffer)) {
          throw std::logic_error("Algorithm 3: undoing element " + std::to_string(j) +
                                 " after an overflow at element " + std::to_string(i) +
                                 " failed; the vector and buffer are inconsistent");
        }
      }
      throw FixedPointOverflow(i, value);
    }
  }
}

void Apply(FixedPointVector& v, std::span<const MomentumRatio> ratios, InfoBuffer& buffer,
           bool inverse) {
  const char* what = inverse ? "DivideByRatio" : "MultiplyByRatio";
  if (buffer.size() != v.size()) {
    throw std::invalid_argument(std::string(what) + ": buffer has " +
                                std::to_string(buffer.size()) + " elements, vector " +
                                std::to_string(v.size()));
  }
  if (ratios.size() != 1 && ratios.size() != v.size()) {
    throw std::invalid_argument(std::string(what) + ": " + std::to_string(ratios.size()) +
                                " ratios for " + std::to_string(v.size()) +
                                " elements (expected 1 or one per element)");
  }
  for (std::size_t i = 0; i < ratios.size(); ++i) {
    const MomentumRatio r = ratios[i];
    if (r.n < 1 || r.d < 1 || r.n > 65536 || r.d > 65536) {
      throw std::invalid_argument(std::string(what) + ": ratio " + std::to_string(i) + " = " +
                                  std::to_string(r.n) + "/" + std::to_string(r.d) +
                                  " is outside [1, 65536]/[1, 65536]");
    }
  }
  // Dispatch once per vector so the per-element buffer operations inline.
  if (auto* fast = dynamic_cast<AnsBuffer*>(&buffer)) {
    ApplyRatios(v.raw(), ratios, inverse, *fast);
  } else if (auto* exact = dynamic_cast<ExactBuffer*>(&buffer)) {
    ApplyRatios(v.raw(), ratios, inverse, *exact);
  } else {
    VirtualBuffer other{buffer};
    ApplyRatios(v.raw(), ratios, inverse, other);
  }
}

}  // namespace

void MultiplyByRatio(FixedPointVector& v, std::span<const MomentumRatio> ratios,
                     InfoBuffer& buffer) {
  Apply(v, ratios, buffer, /*inverse=*/false);
}

void DivideByRatio(FixedPointVector& v, std::span<const MomentumRatio> ratios,
                   InfoBuffer& buffer) {
  Apply(v, ratios, buffer, /*inverse=*/true);
}

}  // namespace hypergrad
