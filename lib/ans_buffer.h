// The fast information buffer: range asymmetric numeral systems (rANS) per element.
//
// Each element keeps a 64-bit coder state x and a stack of 16-bit words (WordStacks). A digit
// in base m is coded with the uniform distribution over [0, m) quantised to the coding total
// M = 2^24: digit r gets frequency ⌊M/m⌋ + (r < M mod m). Push = rANS encode, Pop = rANS
// decode; the two are exact inverses in any LIFO interleaving because
//   * M divides the lower bound L = 2^48, which makes renormalisation uniquely invertible for
//     every frequency, and
//   * while a stack is non-empty, x stays in [L, 2^64) (16-bit words are moved between x and
//     the stack at exactly the points where encode and decode can mirror each other).
// A fresh element has x = 0: popping it returns 0 and leaves it at 0, like the exact buffer.
//
// Cost: O(1) per operation (a few integer divisions), memory ≈ information + 8 bytes of state +
// chunk slack per element. In the steady state the bits used per multiply by n/d are within
// 0.05% of log2(d/n) (see bench_buffer), plus a one-off start-up cost of about 7 bits per
// element; there is no limit on the number of steps.
#ifndef HYPERGRAD_ANS_BUFFER_H_
#define HYPERGRAD_ANS_BUFFER_H_

#include <algorithm>
#include <cstdint>
#include <vector>

#include "info_buffer.h"
#include "word_stacks.h"

namespace hypergrad {

class AnsBuffer final : public InfoBuffer {
 public:
  explicit AnsBuffer(std::size_t size) : state_(size, 0), stacks_(size) {}

  std::string_view name() const override { return "fast"; }
  std::size_t size() const override { return state_.size(); }
  void Push(std::size_t i, std::uint32_t digit, std::uint32_t radix) override;
  std::uint32_t Pop(std::size_t i, std::uint32_t radix) override;
  double InformationBits() const override;
  std::size_t AllocatedBytes() const override;
  bool Empty() const override;
  std::unique_ptr<InfoBuffer> Clone() const override { return std::make_unique<AnsBuffer>(*this); }

  // Unchecked forms for the hot loop of Algorithm 3 (same contract, arguments not validated).
  void PushUnchecked(std::size_t i, std::uint32_t digit, std::uint32_t radix) {
    if (radix == 1) return;  // a base-1 digit carries no information (and freq = M would overflow)
    const Slots slots(radix);
    const std::uint64_t freq = slots.Frequency(digit);
    std::uint64_t x = state_[i];
    // Renormalise: x must be below freq·2^40 so that the coded state stays below 2^64.
    const std::uint64_t limit = freq << (kLowerBoundBits - kTotalBits + kWordBits);
    while (x >= limit) {
      stacks_.Push(i, static_cast<std::uint16_t>(x));
      x >>= kWordBits;
    }
    state_[i] = ((x / freq) << kTotalBits) + x % freq + slots.Start(digit);
  }

  std::uint32_t PopUnchecked(std::size_t i, std::uint32_t radix) {
    if (radix == 1) return 0;
    const Slots slots(radix);
    std::uint64_t x = state_[i];
    const auto slot = static_cast<std::uint32_t>(x & (kTotal - 1));
    const std::uint32_t digit = slots.DigitAt(slot);
    x = slots.Frequency(digit) * (x >> kTotalBits) + slot - slots.Start(digit);
    while (x < kLowerBound && !stacks_.Empty(i)) {
      x = (x << kWordBits) | stacks_.Pop(i);
    }
    state_[i] = x;
    return digit;
  }

  // Coder state of element i, for tests.
  std::uint64_t state(std::size_t i) const { return state_[i]; }

 private:
  static constexpr int kTotalBits = 24;       // coding total M = 2^24
  static constexpr int kLowerBoundBits = 48;  // L = 2^48, a multiple of M
  static constexpr int kWordBits = 16;        // states live in [L, L·2^16) = [2^48, 2^64)
  static constexpr std::uint64_t kTotal = std::uint64_t{1} << kTotalBits;
  static constexpr std::uint64_t kLowerBound = std::uint64_t{1} << kLowerBoundBits;

  // The quantised uniform distribution over [0, radix): the first `rem` digits get frequency
  // q + 1, the others q, where q = ⌊M/radix⌋ and rem = M mod radix.
  struct Slots {
    explicit Slots(std::uint32_t radix)
        : q(static_cast<std::uint32_t>(kTotal / radix)),
          rem(static_cast<std::uint32_t>(kTotal % radix)),
          wide_end(rem * (q + 1)) {}
    std::uint64_t Frequency(std::uint32_t digit) const { return q + (digit < rem ? 1u : 0u); }
    std::uint32_t Start(std::uint32_t digit) const { return digit * q + std::min(digit, rem); }
    std::uint32_t DigitAt(std::uint32_t slot) const {
      return slot < wide_end ? slot / (q + 1) : rem + (slot - wide_end) / q;
    }
    std::uint32_t q, rem, wide_end;
  };

  std::vector<std::uint64_t> state_;
  WordStacks stacks_;
};

}  // namespace hypergrad

#endif  // HYPERGRAD_ANS_BUFFER_H_
