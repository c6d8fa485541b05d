#include "exact_momentum.h"

#include <limits>
#include <string>

#include "ans_buffer.h"
#include "exact_buffer.h"

namespace hypergrad {
namespace {

// Any other InfoBuffer implementation, through its checked virtual interface.
struct VirtualBuffer {
  InfoBuffer& buffer;
  void PushUnchecked(std::size_t i, std::uint32_t digit, std::uint32_t radix) {
    buffer.Push(i, digit, radix);
  }
  std::uint32_t PopUnchecked(std::size_t i, std::uint32_t radix) { return buffer.Pop(i, radix); }
};

// Algorithm 3 on element i: c ← c · n / d. Returns false, with c and the buffer unchanged, if
// the result would not be representable.
template <class Buffer>
inline bool RationalMultiplyElement(std::int64_t& c, std::size_t i, std::uint32_t n,
                                    std::uint32_t d, Buffer& buffer) {
  const auto [quotient, remainder] = FloorDivMod(c, d);
  std::int64_t scaled;
  if (__builtin_mul_overflow(quotient, std::int64_t{n}, &scaled)) return false;
  buffer.PushUnchecked(i, static_cast<std::uint32_t>(remainder), d);
  const std::uint32_t digit = buffer.PopUnchecked(i, n);
  std::int64_t result;
  if (__builtin_add_overflow(scaled, std::int64_t{digit}, &result) ||
      result == std::numeric_limits<std::int64_t>::min()) {
    buffer.PushUnchecked(i, digit, n);  // undo the pop, then the push
    buffer.PopUnchecked(i, d);
    return false;
  }
  c = result;
  return true;
}

template <class Buffer>
void ApplyRatios(std::span<std::int64_t> c, std::span<const MomentumRatio> ratios, bool inverse,
                 Buffer& buffer) {
  const bool broadcast = ratios.size() == 1;
  auto numerator = [&](std::size_t i) {
    const MomentumRatio& r = ratios[broadcast ? 0 : i];
    return inverse ? r.d : r.n;
  };
  auto denominator = [&](std::size_t i) {
    const MomentumRatio& r = ratios[broadcast ? 0 : i];
    return inverse ? r.n : r.d;
  };
  for (std::size_t i = 0; i < c.size(); ++i) {
    if (!RationalMultiplyElement(c[i], i, numerator(i), denominator(i), buffer)) {
      const double value = ToDouble(c[i]) * numerator(i) / denominator(i);
      // All-or-nothing: undo the elements already done (each is exactly invertible).
      for (std::size_t j = i; j-- > 0;) {
        RationalMultiplyElement(c[j], j, denominator(j), numerator(j), buffer);
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
