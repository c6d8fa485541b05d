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
// Cost: O(1) per operation (multiplications by prepared reciprocals, no division instruction), memory ≈ information + 8 bytes of state +
// chunk slack per element. In the steady state the bits used per multiply by n/d are within
// 0.05% of log2(d/n) (see bench_buffer), plus a one-off start-up cost of about 7 bits per
// element; there is no limit on the number of steps.
#ifndef HYPERGRAD_BUFFERS_ANS_BUFFER_H_
#define HYPERGRAD_BUFFERS_ANS_BUFFER_H_

#include <algorithm>
#include <bit>
#include <cstdint>
#include <vector>

#include "buffers/info_buffer.h"
#include "arithmetic/rational.h"
#include "buffers/word_stacks.h"

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

  // The quantised uniform distribution over [0, radix): the first `rem` digits get frequency
  // q + 1, the others q, where q = ⌊M/radix⌋ and rem = M mod radix. Prepared once per radix
  // (Algorithm 3 uses the same n and d for a whole vector), with reciprocals of q and q + 1 so
  // that coding divides by multiplication (rational.h's UnsignedDivisor); powers of two (the
  // momentum denominator 2^16 gives q = 2^8) become shifts.
  class Radix {
   public:
    explicit Radix(std::uint32_t radix)
        : q_(static_cast<std::uint32_t>(kTotal / radix)),
          rem_(static_cast<std::uint32_t>(kTotal % radix)),
          wide_end_(rem_ * (q_ + 1)),
          trivial_(radix == 1),
          q_shift_(rem_ == 0 && (q_ & (q_ - 1)) == 0 ? std::countr_zero(q_) : -1),
          by_q_(q_), by_q1_(q_ + 1) {}
    bool trivial() const { return trivial_; }
    // The distribution's constants, for vector loops (algorithm3.cc): q, rem, wide_end = rem·(q +
    // 1) and log2 q for a power of two (else −1).
    std::uint32_t q() const { return q_; }
    std::uint32_t rem() const { return rem_; }
    std::uint32_t wide_end() const { return wide_end_; }
    int shift() const { return q_shift_; }
    // Whether every frequency is q = 2^shift (rem = 0): then coding is shifts and masks.
    bool power_of_two() const { return q_shift_ >= 0; }
    // What a caller knows of the radix, so that a hot loop compiles only its form: kAny tests
    // power_of_two() per call; kPowerOfTwo requires it; kOther divides, which is exact for
    // every radix.
    enum class Shape { kAny, kPowerOfTwo, kOther };
    template <Shape kShape = Shape::kAny>
    [[gnu::always_inline]] bool Shifts() const {
      if constexpr (kShape == Shape::kAny) return q_shift_ >= 0;
      return kShape == Shape::kPowerOfTwo;
    }
    template <Shape kShape = Shape::kAny>
    [[gnu::always_inline]] std::uint64_t Frequency(std::uint32_t digit) const {
      if (Shifts<kShape>()) return q_;
      return q_ + (digit < rem_ ? 1u : 0u);
    }
    template <Shape kShape = Shape::kAny>
    [[gnu::always_inline]] std::uint32_t Start(std::uint32_t digit) const {
      if (Shifts<kShape>()) return digit << q_shift_;
      return digit * q_ + std::min(digit, rem_);
    }
    // Branch-free (which frequency a slot has is a coin flip for most radices: a mispredicted
    // branch per digit cost more than the division): the wide digits' slots [0, wide_end) by
    // q + 1, the rest from wide_end by q.
    template <Shape kShape = Shape::kAny>
    [[gnu::always_inline]] std::uint32_t DigitAt(std::uint32_t slot) const {
      if (Shifts<kShape>()) return slot >> q_shift_;
      const bool wide = slot < wide_end_;
      const std::uint32_t narrow = std::uint32_t{wide} - 1u;  // a mask: a conditional became a branch
      const std::uint32_t base = wide_end_ & narrow, first = rem_ & narrow;
      return first + static_cast<std::uint32_t>(ByFrequency(wide).Divide(slot - base));
    }
    // x / freq and x mod freq for freq = Frequency(some digit) (q or q + 1): by prepared
    // reciprocals, no division instruction.
    template <Shape kShape = Shape::kAny>
    [[gnu::always_inline]] void DivMod(std::uint64_t x, std::uint64_t freq,
                                       std::uint64_t& quotient, std::uint64_t& remainder) const {
      if (Shifts<kShape>()) {  // then every frequency is q = 2^shift
        quotient = x >> q_shift_;
        remainder = x & (freq - 1);
        return;
      }
      quotient = ByFrequency(freq != q_).Divide(x);
      remainder = x - quotient * freq;
    }
    // rANS with this radix's frequencies, shared by every push and pop below. A push moves
    // 16-bit words off x while x ≥ Limit(digit), so that the coded state stays below 2^64;
    // Encode codes `digit` into such an x; Decode is its inverse (the digit, and x without it).
    template <Shape kShape = Shape::kAny>
    [[gnu::always_inline]] std::uint64_t Limit(std::uint32_t digit) const {
      return Frequency<kShape>(digit) << (kLowerBoundBits - kTotalBits + kWordBits);
    }
    template <Shape kShape = Shape::kAny>
    [[gnu::always_inline]] std::uint64_t Encode(std::uint64_t x, std::uint32_t digit) const {
      std::uint64_t quotient, remainder;
      DivMod<kShape>(x, Frequency<kShape>(digit), quotient, remainder);
      return (quotient << kTotalBits) + remainder + Start<kShape>(digit);
    }
    template <Shape kShape = Shape::kAny>
    [[gnu::always_inline]] std::uint64_t Decode(std::uint64_t x, std::uint32_t& digit) const {
      const auto slot = static_cast<std::uint32_t>(x & (kTotal - 1));
      digit = DigitAt<kShape>(slot);
      return Frequency<kShape>(digit) * (x >> kTotalBits) + slot - Start<kShape>(digit);
    }

   private:
    // The divisor by q + 1 (wide) or q, selected by value (it can stay in registers), branch-free.
    [[gnu::always_inline]] UnsignedDivisor ByFrequency(bool wide) const {
      return UnsignedDivisor::Blend(by_q_, by_q1_, wide);
    }
    std::uint32_t q_, rem_, wide_end_;
    bool trivial_;
    int q_shift_;
    UnsignedDivisor by_q_, by_q1_;
  };
  static Radix Prepare(std::uint32_t radix) { return Radix(radix); }

  // Unchecked forms for the hot loop of Algorithm 3 (same contract, arguments not validated).
  void PushUnchecked(std::size_t i, std::uint32_t digit, const Radix& radix) {
    if (radix.trivial()) return;  // a base-1 digit carries no information (freq = M would overflow)
    std::uint64_t x = state_[i];
    // Renormalise: x must be below freq·2^40 so that the coded state stays below 2^64.
    const std::uint64_t limit = radix.Limit(digit);
    while (x >= limit) {
      stacks_.Push(i, static_cast<std::uint16_t>(x));
      x >>= kWordBits;
    }
    state_[i] = radix.Encode(x, digit);
  }
  std::uint32_t PopUnchecked(std::size_t i, const Radix& radix) {
    if (radix.trivial()) return 0;
    std::uint32_t digit;
    std::uint64_t x = radix.Decode(state_[i], digit);
    while (x < kLowerBound && !stacks_.Empty(i)) {
      x = (x << kWordBits) | stacks_.Pop(i);
    }
    state_[i] = x;
    return digit;
  }
  // PushUnchecked(i, digit, push) then PopUnchecked(i, pop), with the same state, stack
  // contents and pool afterwards (WordStacks::SameState), as one operation: Algorithm 3's
  // multiply. A push by a radix ≤ 2^16 (frequency ≥ 2^8, so limit ≥ 2^48) moves at most one
  // word to the stack, and the pop that follows takes back the top word first, so that word
  // stays in a register (WordStacks::PushPopInPlace keeps the pool's bookkeeping) unless the
  // pop does not need it. Radices must be at most 2^16 (Algorithm 3's n, d ≤ 65536).
  std::uint32_t PushPopUnchecked(std::size_t i, std::uint32_t digit, const Radix& push,
                                 const Radix& pop) {
    std::uint64_t x = state_[i];
    bool pending = false;
    std::uint16_t word = 0;
    if (!push.trivial()) {
      if (x >= push.Limit(digit)) {
        word = static_cast<std::uint16_t>(x);
        x >>= kWordBits;
        pending = true;
      }
      x = push.Encode(x, digit);
    }
    std::uint32_t out = 0;
    if (!pop.trivial()) {
      x = pop.Decode(x, out);
      if (x < kLowerBound && pending) {
        x = (x << kWordBits) | word;
        pending = false;
        stacks_.PushPopInPlace(i);
      }
      while (x < kLowerBound && !pending && !stacks_.Empty(i)) {
        x = (x << kWordBits) | stacks_.Pop(i);
      }
    }
    if (pending) stacks_.Push(i, word);
    state_[i] = x;
    return out;
  }

  // PushPopUnchecked's two common cases worked out without storing anything: the push moves a
  // word off x and the pop takes it straight back (the steady state), or neither moves a word
  // and the pop would take none from the stack (x stays ≥ L, or the stack is empty: the
  // start-up). Then returns true with the new state in `x`, the digit popped in `out`, and in
  // `in_place` whether the pool's bookkeeping is left to do: StoreState(i, x), then
  // PushPopInPlace(i) if in_place, is PushPopUnchecked's outcome. in_place: the word went out
  // and came back while the stack's top chunk is full or absent, where PushPopUnchecked counts a
  // fresh chunk, free afterwards, if no chunk is free (WordStacks::PushPopInPlace). Neither case
  // touches a stack, so on several threads a caller may store x at once and replay
  // PushPopInPlace(i) on one thread, in index order among the pool's other changes. Otherwise
  // returns false, and the caller runs PushPopUnchecked. Radices ≤ 2^16. kPush and kPop: what
  // the caller knows of the radices (Radix::Shape).
  template <Radix::Shape kPush = Radix::Shape::kAny, Radix::Shape kPop = Radix::Shape::kAny>
  [[gnu::always_inline]] bool TryPushPopInRegisters(std::size_t i, std::uint32_t digit,
                                                    const Radix& push, const Radix& pop,
                                                    std::uint64_t& x, std::uint32_t& out,
                                                    bool& in_place) const {
    if (push.trivial() || pop.trivial()) return false;
    x = state_[i];
    const bool pending = x >= push.Limit<kPush>(digit);
    if (pending) x >>= kWordBits;
    x = pop.Decode<kPop>(push.Encode<kPush>(x, digit), out);
    if (pending) {  // the word comes back: x · 2^16 + word, i.e. the bits shifted off
      if (x >= kLowerBound) return false;
      in_place = !stacks_.TopChunkHasRoom(i);
      x = (x << kWordBits) | (state_[i] & 0xFFFF);
      return true;
    }
    in_place = false;
    return x >= kLowerBound || stacks_.Empty(i);
  }
  // The pool's bookkeeping of a push and pop that kept their word in a register
  // (TryPushPopInRegisters' in_place).
  void PushPopInPlace(std::size_t i) { stacks_.PushPopInPlace(i); }
  void StoreState(std::size_t i, std::uint64_t x) { state_[i] = x; }
  // The coder states and stacks, for a vector loop that works out TryPushPopInRegisters' common
  // cases on several elements at once and stores only coder states (algorithm3.cc).
  std::uint64_t* states() { return state_.data(); }
  const WordStacks& stacks() const { return stacks_; }
  static constexpr std::uint64_t LowerBound() { return kLowerBound; }  // L: states in [L, 2^64)
  static constexpr int WordBits() { return kWordBits; }
  static constexpr int TotalBits() { return kTotalBits; }

  void PushUnchecked(std::size_t i, std::uint32_t digit, std::uint32_t radix) {
    PushUnchecked(i, digit, Radix(radix));
  }
  std::uint32_t PopUnchecked(std::size_t i, std::uint32_t radix) {
    return PopUnchecked(i, Radix(radix));
  }

  // One multiply of Algorithm 3 on element i (a push, then a pop) worked out on a local copy of
  // its state and top chunk, so that several threads can code disjoint elements at once: the
  // shared chunk pool is never touched. Local::Push/Pop return false where the real operation
  // would take a chunk from the pool or give one back; the caller then drops the local copy and
  // runs the element through PushUnchecked/PopUnchecked on one thread. Commit stores the result
  // and returns the change in stored words (for WordsAdded, summed on one thread).
  class Local {
   public:
    Local(AnsBuffer& buffer, std::size_t i)
        : x_(buffer.state_[i]), words_(buffer.stacks_.TopWords(i)), fill_(buffer.stacks_.TopFill(i)),
          fill0_(fill_) {}
    bool Push(std::uint32_t digit, const Radix& radix) {
      if (radix.trivial()) return true;
      const std::uint64_t limit = radix.Limit(digit);
      while (x_ >= limit) {
        if (words_ == nullptr || fill_ == WordStacks::kCapacity) return false;  // needs a chunk
        words_[fill_++] = static_cast<std::uint16_t>(x_);
        x_ >>= kWordBits;
      }
      x_ = radix.Encode(x_, digit);
      return true;
    }
    bool Pop(const Radix& radix, std::uint32_t& digit) {
      if (radix.trivial()) {
        digit = 0;
        return true;
      }
      x_ = radix.Decode(x_, digit);
      while (x_ < kLowerBound && words_ != nullptr) {
        if (fill_ == 1) return false;  // the last word of the chunk: it would go back to the pool
        x_ = (x_ << kWordBits) | words_[--fill_];
      }
      return true;
    }
    // Push(digit, push) then Pop(pop, digit_out) with the same outcome (false where either
    // would), the word the push moves kept in a register when the pop takes it back
    // (PushPopUnchecked); radices at most 2^16.
    bool PushPop(std::uint32_t digit, const Radix& push, const Radix& pop,
                 std::uint32_t& digit_out) {
      bool pending = false;
      std::uint16_t word = 0;
      if (!push.trivial()) {
        if (x_ >= push.Limit(digit)) {
          if (words_ == nullptr || fill_ == WordStacks::kCapacity) return false;  // needs a chunk
          word = static_cast<std::uint16_t>(x_);
          x_ >>= kWordBits;
          pending = true;
        }
        x_ = push.Encode(x_, digit);
      }
      digit_out = 0;
      if (!pop.trivial()) {
        x_ = pop.Decode(x_, digit_out);
        if (x_ < kLowerBound && pending) {
          x_ = (x_ << kWordBits) | word;
          pending = false;
        }
        while (x_ < kLowerBound && !pending && words_ != nullptr) {
          if (fill_ == 1) return false;  // the last word of the chunk: it would go back to the pool
          x_ = (x_ << kWordBits) | words_[--fill_];
        }
      }
      if (pending) words_[fill_++] = word;
      return true;
    }
    std::ptrdiff_t Commit(AnsBuffer& buffer, std::size_t i) const {
      buffer.state_[i] = x_;
      if (words_ != nullptr) buffer.stacks_.SetTopFill(i, fill_);
      return static_cast<std::ptrdiff_t>(fill_) - static_cast<std::ptrdiff_t>(fill0_);
    }

   private:
    std::uint64_t x_;
    std::uint16_t* words_;
    std::uint8_t fill_, fill0_;
  };
  void WordsAdded(std::ptrdiff_t words) { stacks_.AddToTotal(words); }

  // Whether the two buffers are in the same state: coder states, stack words and chunk pool
  // (WordStacks::SameState). For tests.
  bool SameState(const AnsBuffer& other) const {
    return state_ == other.state_ && stacks_.SameState(other.stacks_);
  }

  // Coder state of element i, for tests.
  std::uint64_t state(std::size_t i) const { return state_[i]; }

 private:
  static constexpr int kTotalBits = 24;       // coding total M = 2^24
  static constexpr int kLowerBoundBits = 48;  // L = 2^48, a multiple of M
  static constexpr int kWordBits = 16;        // states live in [L, L·2^16) = [2^48, 2^64)
  static constexpr std::uint64_t kTotal = std::uint64_t{1} << kTotalBits;
  static constexpr std::uint64_t kLowerBound = std::uint64_t{1} << kLowerBoundBits;

  std::vector<std::uint64_t> state_;
  WordStacks stacks_;
};

}  // namespace hypergrad

#endif  // HYPERGRAD_BUFFERS_ANS_BUFFER_H_
