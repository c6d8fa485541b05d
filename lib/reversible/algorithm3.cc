#include "reversible/algorithm3.h"

#include <algorithm>
#include <bit>
#include <type_traits>
#include <variant>
#include <limits>
#include <utility>
#include <vector>
#include <stdexcept>
#include <string>

#include "buffers/ans_buffer.h"
#include "buffers/exact_buffer.h"
#include "runtime/parallel.h"
#include "runtime/step_profile.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

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

// ⌊c/m⌋ and c mod m for a 128-bit c and a fixed 1 ≤ m < 2^32: a shift and a mask for a power of
// two (the momentum denominator 2^16); otherwise, as FixedDivisor does, one unsigned division of
// c or ~c (⌊c/m⌋ = −1 − ⌊~c/m⌋ for c < 0), done as schoolbook long division in three 64-bit
// steps by UnsignedDivisor: the high 64 bits, then two 32-bit digits, each step's dividend
// (remainder < m < 2^32, shifted by 32, plus a digit) fitting in 64 bits.
class WideDivisor {
 public:
  explicit WideDivisor(std::uint32_t m)
      : divide_(m), m_(m), shift_((m & (m - 1)) == 0 ? std::countr_zero(m) : -1) {}
  struct Result {
    Int128 quotient;
    std::uint32_t remainder;
  };
  Result FloorDivMod(Int128 c) const {
    __extension__ using U128 = unsigned __int128;
    if (shift_ >= 0) {
      return {c >> shift_, static_cast<std::uint32_t>(static_cast<U128>(c) & (m_ - 1))};
    }
    const U128 sign = static_cast<U128>(c >> 127);  // 0 or all ones
    const U128 u = static_cast<U128>(c) ^ sign;
    const auto high = static_cast<std::uint64_t>(u >> 64), low = static_cast<std::uint64_t>(u);
    const std::uint64_t q_high = divide_.Divide(high);
    std::uint64_t rest = high - q_high * m_;
    const std::uint64_t x1 = (rest << 32) | (low >> 32);
    const std::uint64_t q1 = divide_.Divide(x1);
    rest = x1 - q1 * m_;
    const std::uint64_t x0 = (rest << 32) | (low & 0xffffffffu);
    const std::uint64_t q0 = divide_.Divide(x0);
    const U128 q = ((static_cast<U128>(q_high) << 64) | (U128{q1} << 32) | q0) ^ sign;
    const U128 r = static_cast<U128>(c) - q * m_;  // exact modulo 2^128, in [0, m)
    return {static_cast<Int128>(q), static_cast<std::uint32_t>(r)};
  }

 private:
  UnsignedDivisor divide_;
  std::uint64_t m_;
  int shift_;
};

// The divisor for each integer width.
template <class Int>
using DivisorFor = std::conditional_t<std::is_same_v<Int, std::int64_t>, FixedDivisor, WideDivisor>;

// The factor n/d prepared once for a run of elements: the buffer's radices and the divisor.
template <class Buffer, class Int>
struct Factor {
  Factor(std::uint32_t numerator, std::uint32_t denominator)
      : n(numerator), d(denominator), radix_n(Buffer::Prepare(n)), radix_d(Buffer::Prepare(d)),
        divide_by_d(d) {}
  std::uint32_t n, d;
  decltype(Buffer::Prepare(1u)) radix_n, radix_d;
  DivisorFor<Int> divide_by_d;
};

// ⌊c/d⌋·n + digit if it lies strictly inside Int's range (the most negative integer, −limit
// exactly, is out), else false. Only the result is checked: ⌊c/d⌋·n alone may leave the range
// when the digit brings it back (the exact inverse of a multiply near −limit does). For int64
// it is formed in 128 bits; for int128, with q = ⌊c/d⌋ < 0 it is formed as (q + 1)·n +
// (digit − n), whose product overflows only if the result does (digit − n ∈ [−n, −1]).
inline bool MultiplyAdd(std::int64_t quotient, std::uint32_t n, std::uint32_t digit,
                        std::int64_t& out) {
  const Int128 result = Int128{quotient} * n + digit;
  if (result <= std::numeric_limits<std::int64_t>::min() ||
      result > std::numeric_limits<std::int64_t>::max()) {
    return false;
  }
  out = static_cast<std::int64_t>(result);
  return true;
}
inline bool MultiplyAdd(Int128 quotient, std::uint32_t n, std::uint32_t digit, Int128& out) {
  Int128 product, result;
  const bool negative = quotient < 0;
  const Int128 factor = negative ? quotient + 1 : quotient;
  const Int128 addend = negative ? Int128{digit} - Int128{n} : Int128{digit};
  if (__builtin_mul_overflow(factor, Int128{n}, &product) ||
      __builtin_add_overflow(product, addend, &result)) {
    return false;
  }
  __extension__ using U128 = unsigned __int128;
  if (result == static_cast<Int128>(U128{1} << 127)) return false;  // −limit
  out = result;
  return true;
}

// Algorithm 3 on element i: c ← c · n / d. Returns false, with c and the buffer unchanged, if
// the result would not be representable.
template <class Buffer, class Int>
inline bool RationalMultiplyElement(Int& c, std::size_t i, const Factor<Buffer, Int>& f,
                                    Buffer& buffer) {
  const auto [quotient, remainder] = f.divide_by_d.FloorDivMod(c);
  buffer.PushUnchecked(i, static_cast<std::uint32_t>(remainder), f.radix_d);
  const std::uint32_t digit = buffer.PopUnchecked(i, f.radix_n);
  if (!MultiplyAdd(quotient, f.n, digit, c)) {
    buffer.PushUnchecked(i, digit, f.radix_n);  // undo the pop, then the push
    buffer.PopUnchecked(i, f.radix_d);
    return false;
  }
  return true;
}

// The same for the fast buffer, its push and pop as one operation (AnsBuffer::PushPopUnchecked:
// the same buffer afterwards, the word the two would move kept in a register). Out of line and
// given the factor by value, so that a caller's copy of it never has its address taken and
// stays in registers (MultiplyRun).
template <class Int>
[[gnu::noinline]] bool PushPopMultiply(Int& c, std::size_t i, const Factor<AnsBuffer, Int> f,
                                       AnsBuffer& buffer) {
  const auto [quotient, remainder] = f.divide_by_d.FloorDivMod(c);
  const std::uint32_t digit =
      buffer.PushPopUnchecked(i, static_cast<std::uint32_t>(remainder), f.radix_d, f.radix_n);
  if (!MultiplyAdd(quotient, f.n, digit, c)) {
    buffer.PushPopUnchecked(i, digit, f.radix_n, f.radix_d);  // undo the pop, then the push
    return false;
  }
  return true;
}

// The common cases (AnsBuffer::TryPushPopInRegisters: no word moves to or from a stack beyond
// the one the push moves and the pop takes back; the pool's bookkeeping of that word, where
// in_place, by PushPopInPlace) in registers, the rest by PushPopMultiply.
// kD and kN: what the caller knows of the radices d and n (AnsBuffer::Radix::Shape).
using Shape = AnsBuffer::Radix::Shape;
template <Shape kD = Shape::kAny, Shape kN = Shape::kAny, class Int>
[[gnu::always_inline]] inline bool RationalMultiplyElement(Int& c, std::size_t i,
                                                           const Factor<AnsBuffer, Int>& f,
                                                           AnsBuffer& buffer) {
  const auto [quotient, remainder] = f.divide_by_d.FloorDivMod(c);
  std::uint64_t x;
  std::uint32_t popped;
  bool in_place = false;
  Int result;
  if (buffer.TryPushPopInRegisters<kD, kN>(i, static_cast<std::uint32_t>(remainder), f.radix_d,
                                           f.radix_n, x, popped, in_place) &&
      MultiplyAdd(quotient, f.n, popped, result)) {
    buffer.StoreState(i, x);  // no stack changes (TryPushPopInRegisters' common cases)
    if (in_place) buffer.PushPopInPlace(i);
    c = result;
    return true;
  }
  return PushPopMultiply(c, i, f, buffer);
}

// Element i's factor n/d (or d/n if `invert`), prepared again only when the ratio changes:
// ratios come in runs, one per parameter block, and preparing a factor divides in 128 bits.
template <class Buffer, class Int>
class FactorRuns {
 public:
  FactorRuns(std::span<const DecayRatio> ratios, bool invert, std::size_t first = 0)
      : ratios_(ratios), invert_(invert), current_(RatioAt(first)), factor_(Make(current_)) {}
  DecayRatio RatioAt(std::size_t i) const { return ratios_[ratios_.size() == 1 ? 0 : i]; }
  // The end of the run of equal ratios that starts at i, at most `size` (a ratio compared as
  // one 64-bit word, four at a time: the scan was ~5% of a training step's time).
  std::size_t RunEnd(std::size_t i, std::size_t size) const {
    if (ratios_.size() == 1) return size;
    const auto word = [this](std::size_t k) { return std::bit_cast<std::uint64_t>(ratios_[k]); };
    const std::uint64_t first = word(i);
    std::size_t end = i + 1;
    while (end + 4 <= size && ((word(end) ^ first) | (word(end + 1) ^ first) |
                               (word(end + 2) ^ first) | (word(end + 3) ^ first)) == 0) {
      end += 4;
    }
    while (end < size && word(end) == first) ++end;
    return end;
  }
  [[gnu::always_inline]] const Factor<Buffer, Int>& At(std::size_t i) {
    const DecayRatio r = RatioAt(i);
    if (r.n != current_.n || r.d != current_.d) {
      current_ = r;
      factor_ = Make(r);
    }
    return factor_;
  }

 private:
  Factor<Buffer, Int> Make(DecayRatio r) const {
    return invert_ ? Factor<Buffer, Int>(r.d, r.n) : Factor<Buffer, Int>(r.n, r.d);
  }
  std::span<const DecayRatio> ratios_;
  bool invert_;
  DecayRatio current_;
  Factor<Buffer, Int> factor_;
};

// The fast buffer's loop compiled for the shapes of d and n: a power-of-two radix (the momentum
// denominator 2^16) codes by shifts, the other divides, with no test of which per element.
template <Shape kD, Shape kN, class Int>
std::size_t MultiplyRunShaped(std::span<Int> c, std::size_t begin, std::size_t end,
                              const Factor<AnsBuffer, Int> f, AnsBuffer& buffer) {
  for (std::size_t i = begin; i < end; ++i) {
    if (!RationalMultiplyElement<kD, kN>(c[i], i, f, buffer)) return i;
  }
  return end;
}

// The parallel form: the elements in a fixed split (never dependent on the thread count), each
// piece on its own thread, elements worked out without touching anything shared. Elements the
// fast buffer cannot code locally (they take a chunk from its pool or give one back: a few in a
// thousand) are then run on one thread in index order, and so is the pool's bookkeeping of the
// elements whose word stayed in a register over a full or absent top chunk (in_place), so the
// pool sees the same operations in the same order as ApplyRatios. Any overflow: the work done
// is undone and ApplyRatios runs alone, to fail as it does. The result is bit for bit that of
// ApplyRatios.
enum class Local { kDone, kDeferred, kOverflow };

// An element done on its own thread whose pool bookkeeping (AnsBuffer::PushPopInPlace) waits
// for the pass on one thread; its value and coder state before, for an undo.
template <class Int>
struct InPlace {
  std::size_t i;
  Int c;
  std::uint64_t x;
};

// One piece's first pass: the elements before `end` were visited; those in `deferred` wait for
// the pass on one thread, and so does the bookkeeping of those in `in_place` (both in index
// order); `words`: the change in stored words of the elements done.
template <class Int>
struct Piece {
  std::vector<std::size_t> deferred;
  std::vector<InPlace<Int>> in_place;
  std::size_t end = 0;
  bool overflow = false;
  std::ptrdiff_t words = 0;
};

// Element i on its own thread: kDone, kDeferred where it needs the pool, or kOverflow (nothing
// stored). An element whose bookkeeping waits is added to `in_place`; without one (an undo,
// which must leave the pool alone) such an element is kDeferred.
template <Shape = Shape::kAny, Shape = Shape::kAny, class Int>
inline Local MultiplyLocally(Int& c, std::size_t i, const Factor<ExactBuffer, Int>& f,
                             ExactBuffer& buffer, std::ptrdiff_t&, std::vector<InPlace<Int>>*) {
  // One integer per element: nothing is shared (cpp_int's allocations are thread-safe).
  return RationalMultiplyElement(c, i, f, buffer) ? Local::kDone : Local::kOverflow;
}

template <Shape kD = Shape::kAny, Shape kN = Shape::kAny, class Int>
inline Local MultiplyLocally(Int& c, std::size_t i, const Factor<AnsBuffer, Int>& f,
                             AnsBuffer& buffer, std::ptrdiff_t& words,
                             std::vector<InPlace<Int>>* in_place_elements) {
  const auto [quotient, remainder] = f.divide_by_d.FloorDivMod(c);
  std::uint64_t x;
  std::uint32_t popped;
  bool in_place = false;
  // The common cases touch only element i's state; their pool bookkeeping, where there is one,
  // waits: a deferred element before i may take a free chunk first.
  if (buffer.TryPushPopInRegisters<kD, kN>(i, static_cast<std::uint32_t>(remainder), f.radix_d,
                                           f.radix_n, x, popped, in_place)) {
    Int result;
    if (!MultiplyAdd(quotient, f.n, popped, result)) return Local::kOverflow;  // nothing stored
    if (in_place) {
      if (in_place_elements == nullptr) return Local::kDeferred;
      in_place_elements->push_back({i, c, buffer.states()[i]});
    }
    buffer.StoreState(i, x);
    c = result;
    return Local::kDone;
  }
  AnsBuffer::Local element(buffer, i);
  std::uint32_t digit = 0;
  if (!element.PushPop(static_cast<std::uint32_t>(remainder), f.radix_d, f.radix_n, digit)) {
    return Local::kDeferred;
  }
  if (!MultiplyAdd(quotient, f.n, digit, c)) return Local::kOverflow;  // nothing was stored
  words += element.Commit(buffer, i);
  return Local::kDone;
}

inline void AddWords(ExactBuffer&, std::ptrdiff_t) {}
inline void AddWords(AnsBuffer& buffer, std::ptrdiff_t words) { buffer.WordsAdded(words); }
// The fast buffer's kept pool bookkeeping and state restore (InPlace; the exact buffer keeps
// none).
inline void PushPopInPlace(ExactBuffer&, std::size_t) {}
inline void PushPopInPlace(AnsBuffer& buffer, std::size_t i) { buffer.PushPopInPlace(i); }
inline void RestoreState(ExactBuffer&, std::size_t, std::uint64_t) {}
inline void RestoreState(AnsBuffer& buffer, std::size_t i, std::uint64_t x) { buffer.StoreState(i, x); }

// How a run of elements with one factor is worked out, for MultiplyRun and the vector loops:
// Elements<kD, kN>(c, begin, end, f, buffer) works out elements [begin, end) one by one and
// returns end, or the first element that would overflow (unchanged; those before it done);
// InPlace(buffer, i, c, x) does or keeps the pool bookkeeping of element i (its value c and
// coder state x before) once the vector loop has stored it.
//
// InOrder: one thread, elements in index order (ApplyRatios): each runs to the end.
struct InOrder {
  template <class Int>
  static void InPlace(AnsBuffer& buffer, std::size_t i, Int, std::uint64_t) {
    buffer.PushPopInPlace(i);
  }
  template <Shape kD, Shape kN, class Int>
  std::size_t Elements(std::span<Int> c, std::size_t begin, std::size_t end,
                       const Factor<AnsBuffer, Int>& f, AnsBuffer& buffer) {
    return MultiplyRunShaped<kD, kN>(c, begin, end, f, buffer);
  }
  template <Shape, Shape, class Buffer, class Int>
  std::size_t Elements(std::span<Int> c, std::size_t begin, std::size_t end,
                       const Factor<Buffer, Int> f, Buffer& buffer) {
    for (std::size_t i = begin; i < end; ++i) {
      if (!RationalMultiplyElement(c[i], i, f, buffer)) return i;
    }
    return end;
  }
};

// OnItsOwn: one piece of the parallel form, beside other threads' pieces: nothing shared is
// touched; an element that needs the pool is deferred, and pool bookkeeping kept for later
// (MultiplyLocally).
template <class Int>
struct OnItsOwn {
  Piece<Int>& piece;
  void InPlace(AnsBuffer&, std::size_t i, Int c, std::uint64_t x) {
    piece.in_place.push_back({i, c, x});
  }
  template <Shape kD, Shape kN, class Buffer>
  std::size_t Elements(std::span<Int> c, std::size_t begin, std::size_t end,
                       const Factor<Buffer, Int>& f, Buffer& buffer) {
    for (std::size_t i = begin; i < end; ++i) {
      const Local outcome = MultiplyLocally<kD, kN>(c[i], i, f, buffer, piece.words, &piece.in_place);
      if (outcome == Local::kOverflow) return i;
      if (outcome == Local::kDeferred) piece.deferred.push_back(i);
    }
    return end;
  }
};

#if defined(__x86_64__)
// GCC 12's AVX-512 intrinsics start some results from _mm512_undefined_*() (`__m512i __Y = __Y`),
// which -Wmaybe-uninitialized reports once inlined under a target attribute (GCC bug 105593);
// no value of ours is read uninitialised.
#if !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

bool CpuRunsAvx512() {
  static const bool yes = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                          __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
  return yes;
}

// Of the lanes i … i + 7, given which pushes moved a word (pending) and the states after the
// pops (x): those whose push and pop take TryPushPopInRegisters' common cases (the word comes
// straight back, or no word moved and the pop takes none: x ≥ L, or the stack is empty), and
// among them those whose word came back over a full or absent top chunk (its in_place). Read
// per block: the stacks change in blocks worked out element by element.
struct CommonCases {
  __mmask8 common, in_place;
};
[[gnu::target("avx512f,avx512dq,avx512vl,avx512bw")]] inline CommonCases CommonLanes(
    const WordStacks& stacks, std::size_t i, __mmask8 pending, __m512i x) {
  const __mmask8 below =
      _mm512_cmplt_epu64_mask(x, _mm512_set1_epi64(static_cast<long long>(AnsBuffer::LowerBound())));
  const __m512i heads = _mm512_cvtepu32_epi64(
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(stacks.heads() + i)));
  const __m512i fills = _mm512_cvtepu8_epi64(
      _mm_loadl_epi64(reinterpret_cast<const __m128i*>(stacks.fills() + i)));
  const __mmask8 empty = _mm512_cmpeq_epu64_mask(heads, _mm512_set1_epi64(WordStacks::kEmptyHead));
  const __mmask8 full = _mm512_cmpeq_epu64_mask(fills, _mm512_set1_epi64(WordStacks::kCapacity));
  return {static_cast<__mmask8>((pending & below) | (~pending & (~below | empty))),
          static_cast<__mmask8>(pending & (empty | full))};
}

// The lanes whose ⌊c/d⌋ (quotient) gives ⌊c/d⌋·n + digit inside (−2^63, 2^63) for every digit < n.
[[gnu::target("avx512f,avx512dq,avx512vl,avx512bw")]] inline __mmask8 SafeLanes(__m512i quotient,
                                                                              std::uint32_t n) {
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  return _mm512_cmpge_epi64_mask(quotient, _mm512_set1_epi64(-(kMax / n))) &
         _mm512_cmple_epi64_mask(quotient, _mm512_set1_epi64((kMax - (n - 1)) / n));
}

// One block's lanes after the push and pop: which pushes moved a word, the states before and
// after, ⌊c/d⌋ and the digits popped.
struct BlockLanes {
  __mmask8 pending;
  __m512i x0, x, quotient, digit;
};
constexpr std::size_t kNoOverflow = static_cast<std::size_t>(-1);

// Stores block i … i + 7: the lanes that took the common cases and cannot overflow get their
// coder states (with the word the push moved back below the bits the pop left) and ⌊c/d⌋·n +
// digit from the vector, their pool bookkeeping by policy.InPlace; the other lanes are worked
// out one by one (policy.Elements). All in index order, so the pool sees what the scalar loop
// does: a lane's case and result depend only on its own value, state and stack, which the
// other lanes never touch. Returns the first element that would overflow (those before it
// done, it and those after it unchanged), or kNoOverflow. (Before, a block with one uncommon
// lane ran all eight element by element: ~40% of Algorithm 3's time in hypergrad, T = 1000.)
template <Shape kD, Shape kN, class Policy>
[[gnu::target("avx512f,avx512dq,avx512vl,avx512bw")]] inline std::size_t FinishBlock(
    std::span<std::int64_t> c, std::size_t i, const Factor<AnsBuffer, std::int64_t>& f,
    AnsBuffer& buffer, const BlockLanes& lanes, Policy& policy) {
  const CommonCases cases = CommonLanes(buffer.stacks(), i, lanes.pending, lanes.x);
  const __mmask8 fast = cases.common & SafeLanes(lanes.quotient, f.n);
  const __m512i x = _mm512_mask_or_epi64(
      lanes.x, lanes.pending, _mm512_slli_epi64(lanes.x, AnsBuffer::WordBits()),
      _mm512_and_si512(lanes.x0, _mm512_set1_epi64(0xFFFF)));
  const __m512i result = _mm512_add_epi64(
      _mm512_mullo_epi64(lanes.quotient, _mm512_set1_epi64(f.n)), lanes.digit);
  if (fast == 0xFF) {
    for (unsigned mask = cases.in_place; mask != 0; mask &= mask - 1) {
      const std::size_t j = i + static_cast<std::size_t>(std::countr_zero(mask));
      policy.InPlace(buffer, j, c[j], buffer.states()[j]);  // before the stores below
    }
    _mm512_storeu_si512(buffer.states() + i, x);
    _mm512_storeu_si512(c.data() + i, result);
    return kNoOverflow;
  }
  alignas(64) std::uint64_t xs[8];
  alignas(64) std::int64_t values[8];
  _mm512_store_si512(xs, x);
  _mm512_store_si512(values, result);
  for (unsigned k = 0; k < 8; ++k) {
    const std::size_t j = i + k;
    if ((fast >> k) & 1) {
      if ((cases.in_place >> k) & 1) policy.InPlace(buffer, j, c[j], buffer.states()[j]);
      buffer.states()[j] = xs[k];
      c[j] = values[k];
    } else if (policy.template Elements<kD, kN>(c, j, j + 1, f, buffer) != j + 1) {
      return j;
    }
  }
  return kNoOverflow;
}

// MultiplyRunShaped<kPowerOfTwo, kOther> on int64, 8 elements at a time with AVX-512: the
// forward pass's v ← v·n/d (d = 2^16). A block whose elements all take TryPushPopInRegisters'
// common cases and cannot overflow (⌊c/d⌋ inside [lowest, highest] below) is worked out in
// vector registers and only its coder states and values are stored; any other block runs the
// scalar loop, element by element. Each lane computes the scalar loop's integers: shifts and
// masks for d's radix, and the slot's division by q or q + 1 in doubles, which is exact: the
// slot is below 2^24 and q + 1 ≤ 2^23 + 1, so the rounded quotient is within 2^-29 of the true
// one, while a quotient that is not an integer lies more than 2^-24 below the next one.
template <class Policy>
[[gnu::target("avx512f,avx512dq,avx512vl,avx512bw")]] std::size_t MultiplyRunAvx512(
    std::span<std::int64_t> c, std::size_t begin, std::size_t end,
    const Factor<AnsBuffer, std::int64_t>& f, AnsBuffer& buffer, Policy& policy) {
  const AnsBuffer::Radix& push = f.radix_d;
  const AnsBuffer::Radix& pop = f.radix_n;
  std::uint64_t* const state = buffer.states();
  const __m128i d_shift = _mm_cvtsi32_si128(std::countr_zero(f.d));
  const __m128i q_shift = _mm_cvtsi32_si128(push.shift());  // the push radix's q = 2^shift
  const __m512i d_mask = _mm512_set1_epi64(f.d - 1);
  const __m512i push_limit =  // every digit's, a power of two's frequencies being all q
      _mm512_set1_epi64(static_cast<long long>(push.Limit<Shape::kPowerOfTwo>(0)));
  const __m512i push_q_mask = _mm512_set1_epi64(push.q() - 1);
  const __m512i slot_mask = _mm512_set1_epi64((1 << AnsBuffer::TotalBits()) - 1);
  const __m512i q = _mm512_set1_epi64(pop.q()), rem = _mm512_set1_epi64(pop.rem());
  const __m512i wide_end = _mm512_set1_epi64(pop.wide_end());
  const __m512d by_q = _mm512_set1_pd(pop.q()), by_q1 = _mm512_set1_pd(pop.q() + 1.0);
  const __m512i one = _mm512_set1_epi64(1);
  std::size_t i = begin;
  for (; i + 8 <= end; i += 8) {
    const __m512i cv = _mm512_loadu_si512(c.data() + i);
    const __m512i quotient = _mm512_sra_epi64(cv, d_shift);  // floor for c < 0 too
    const __m512i remainder = _mm512_and_si512(cv, d_mask);
    // Push the remainder (radix d, a power of two): one word off x where x ≥ Limit, then encode.
    const __m512i x0 = _mm512_loadu_si512(state + i);
    const __mmask8 pending = _mm512_cmpge_epu64_mask(x0, push_limit);
    const __m512i x1 = _mm512_mask_srli_epi64(x0, pending, x0, AnsBuffer::WordBits());
    const __m512i x2 = _mm512_add_epi64(
        _mm512_add_epi64(_mm512_slli_epi64(_mm512_srl_epi64(x1, q_shift), AnsBuffer::TotalBits()),
                         _mm512_and_si512(x1, push_q_mask)),
        _mm512_sll_epi64(remainder, q_shift));
    // Pop a digit of radix n (not a power of two): DigitAt, then Decode.
    const __m512i slot = _mm512_and_si512(x2, slot_mask);
    const __mmask8 wide = _mm512_cmplt_epu64_mask(slot, wide_end);
    const __m512i base = _mm512_maskz_mov_epi64(static_cast<__mmask8>(~wide), wide_end);
    const __m512i first = _mm512_maskz_mov_epi64(static_cast<__mmask8>(~wide), rem);
    const __m512d offset = _mm512_cvtepu64_pd(_mm512_sub_epi64(slot, base));
    const __m512d divided = _mm512_div_pd(offset, _mm512_mask_blend_pd(wide, by_q, by_q1));
    const __m512d floored =
        _mm512_roundscale_pd(divided, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    const __m512i digit = _mm512_add_epi64(first, _mm512_cvttpd_epu64(floored));
    const __mmask8 digit_wide = _mm512_cmplt_epu64_mask(digit, rem);
    const __m512i freq = _mm512_mask_add_epi64(q, digit_wide, q, one);
    const __m512i start = _mm512_add_epi64(_mm512_mul_epu32(digit, q), _mm512_min_epu64(digit, rem));
    const __m512i x3 = _mm512_sub_epi64(
        _mm512_add_epi64(_mm512_mullo_epi64(freq, _mm512_srli_epi64(x2, AnsBuffer::TotalBits())),
                         slot),
        start);
    const std::size_t failed = FinishBlock<Shape::kPowerOfTwo, Shape::kOther>(
        c, i, f, buffer, {.pending = pending, .x0 = x0, .x = x3, .quotient = quotient, .digit = digit},
        policy);
    if (failed != kNoOverflow) return failed;
  }
  return policy.template Elements<Shape::kPowerOfTwo, Shape::kOther>(c, i, end, f, buffer);
}

// ⌊x/m⌋ for 8 unsigned 64-bit x and divisors 1 ≤ m ≤ 2^20 (m_double: the same as doubles), as
// two 32-bit digits of long division: ⌊x_high/m⌋, then ⌊(remainder·2^32 + x_low)/m⌋. Both
// dividends are below 2^52 (exact in a double) and both quotients below 2^32, so a rounded
// quotient is within 2^-21 of the true one, while one that is not an integer lies at least
// 1/m ≥ 2^-20 below the next: the floor is exact.
[[gnu::target("avx512f,avx512dq,avx512vl,avx512bw")]] inline __m512i FloorDivideLanes(
    __m512i y, __m512d m_double) {  // y < 2^52 and y/m < 2^32
  const __m512d q = _mm512_div_pd(_mm512_cvtepu64_pd(y), m_double);
  return _mm512_cvttpd_epu64(_mm512_roundscale_pd(q, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC));
}

[[gnu::target("avx512f,avx512dq,avx512vl,avx512bw")]] inline __m512i DivideLanes(__m512i x,
                                                                              __m512d m_double,
                                                                              __m512i m) {
  const __m512i high = _mm512_srli_epi64(x, 32);
  const __m512i low = _mm512_and_si512(x, _mm512_set1_epi64(0xFFFFFFFF));
  const __m512i q_high = FloorDivideLanes(high, m_double);
  const __m512i rest = _mm512_sub_epi64(high, _mm512_mullo_epi64(q_high, m));
  const __m512i q_low = FloorDivideLanes(_mm512_or_si512(_mm512_slli_epi64(rest, 32), low), m_double);
  return _mm512_or_si512(_mm512_slli_epi64(q_high, 32), q_low);
}

// MultiplyRunShaped<kOther, kPowerOfTwo> on int64 the same way: the reverse pass's v ← v·d/n
// (dividing by the momentum numerator n, multiplying by 2^16). ⌊c/d⌋ by the sign trick of
// FixedDivisor (⌊c/d⌋ = −1 − ⌊~c/d⌋ for c < 0) and the encoding's x/freq by DivideLanes; the
// pop by shifts. For radices whose q + 1 ≤ 2^20 (radix ≥ 17; Algorithm 3's n ≥ 2^15 here).
template <class Policy>
[[gnu::target("avx512f,avx512dq,avx512vl,avx512bw")]] std::size_t MultiplyRunAvx512Inverse(
    std::span<std::int64_t> c, std::size_t begin, std::size_t end,
    const Factor<AnsBuffer, std::int64_t>& f, AnsBuffer& buffer, Policy& policy) {
  const AnsBuffer::Radix& push = f.radix_d;
  const AnsBuffer::Radix& pop = f.radix_n;
  std::uint64_t* const state = buffer.states();
  const __m512i d = _mm512_set1_epi64(f.d);
  const __m512d d_double = _mm512_set1_pd(f.d);
  const __m512i push_q = _mm512_set1_epi64(push.q()), push_rem = _mm512_set1_epi64(push.rem());
  // Limit(digit) of the wide digits (below rem, frequency q + 1: digit 0) and of the others
  // (digit rem, which is below the radix).
  const __m512i limit_wide = _mm512_set1_epi64(static_cast<long long>(push.Limit(0)));
  const __m512i limit_narrow = _mm512_set1_epi64(static_cast<long long>(push.Limit(push.rem())));
  const __m512d push_q_double = _mm512_set1_pd(push.q()),
                push_q1_double = _mm512_set1_pd(push.q() + 1.0);
  const __m128i pop_shift = _mm_cvtsi32_si128(pop.shift());  // the pop radix's q = 2^shift
  const __m512i pop_q_mask = _mm512_set1_epi64(pop.q() - 1);
  const __m512i slot_mask = _mm512_set1_epi64((1 << AnsBuffer::TotalBits()) - 1);
  const __m512i one = _mm512_set1_epi64(1);
  std::size_t i = begin;
  for (; i + 8 <= end; i += 8) {
    const __m512i cv = _mm512_loadu_si512(c.data() + i);
    const __m512i sign = _mm512_srai_epi64(cv, 63);  // 0 or all ones
    const __m512i quotient =
        _mm512_xor_si512(DivideLanes(_mm512_xor_si512(cv, sign), d_double, d), sign);
    const __m512i remainder = _mm512_sub_epi64(cv, _mm512_mullo_epi64(quotient, d));
    // Push the remainder (radix d, not a power of two).
    const __mmask8 r_wide = _mm512_cmplt_epu64_mask(remainder, push_rem);
    const __m512i freq = _mm512_mask_add_epi64(push_q, r_wide, push_q, one);
    const __m512i x0 = _mm512_loadu_si512(state + i);
    const __mmask8 pending =
        _mm512_cmpge_epu64_mask(x0, _mm512_mask_blend_epi64(r_wide, limit_narrow, limit_wide));
    const __m512i x1 = _mm512_mask_srli_epi64(x0, pending, x0, AnsBuffer::WordBits());
    const __m512i x_by_freq =
        DivideLanes(x1, _mm512_mask_blend_pd(r_wide, push_q_double, push_q1_double), freq);
    const __m512i start = _mm512_add_epi64(_mm512_mul_epu32(remainder, push_q),
                                           _mm512_min_epu64(remainder, push_rem));
    const __m512i x2 = _mm512_add_epi64(
        _mm512_add_epi64(_mm512_slli_epi64(x_by_freq, AnsBuffer::TotalBits()),
                         _mm512_sub_epi64(x1, _mm512_mullo_epi64(x_by_freq, freq))),
        start);
    // Pop a digit of radix n (a power of two): shifts and masks.
    const __m512i slot = _mm512_and_si512(x2, slot_mask);
    const __m512i digit = _mm512_srl_epi64(slot, pop_shift);
    const __m512i x3 = _mm512_add_epi64(
        _mm512_sll_epi64(_mm512_srli_epi64(x2, AnsBuffer::TotalBits()), pop_shift),
        _mm512_and_si512(slot, pop_q_mask));
    const std::size_t failed = FinishBlock<Shape::kOther, Shape::kPowerOfTwo>(
        c, i, f, buffer, {.pending = pending, .x0 = x0, .x = x3, .quotient = quotient, .digit = digit},
        policy);
    if (failed != kNoOverflow) return failed;
  }
  return policy.template Elements<Shape::kOther, Shape::kPowerOfTwo>(c, i, end, f, buffer);
}
#if !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif

// Elements [begin, end) of c, all with the factor f, as `policy` works them out: on the fast
// buffer compiled for the radices' shapes, 8 at a time where the CPU runs AVX-512 and the shapes
// are the momentum's. Returns end, or the first element that would overflow.
template <class Policy, class Int>
std::size_t MultiplyRun(std::span<Int> c, std::size_t begin, std::size_t end,
                        const Factor<AnsBuffer, Int>& f, AnsBuffer& buffer, Policy& policy) {
  const bool d2 = f.radix_d.power_of_two(), n2 = f.radix_n.power_of_two();
#if defined(__x86_64__)
  if constexpr (std::is_same_v<Int, std::int64_t>) {
    if (d2 && !n2 && !f.radix_d.trivial() && CpuRunsAvx512()) {
      return MultiplyRunAvx512(c, begin, end, f, buffer, policy);
    }
    if (!d2 && n2 && !f.radix_n.trivial() && f.radix_d.q() < (1u << 20) && CpuRunsAvx512()) {
      return MultiplyRunAvx512Inverse(c, begin, end, f, buffer, policy);
    }
  }
#endif
  constexpr Shape k2 = Shape::kPowerOfTwo, kOther = Shape::kOther;
  if (d2 && !n2) return policy.template Elements<k2, kOther>(c, begin, end, f, buffer);
  if (!d2 && n2) return policy.template Elements<kOther, k2>(c, begin, end, f, buffer);
  if (d2) return policy.template Elements<k2, k2>(c, begin, end, f, buffer);
  return policy.template Elements<kOther, kOther>(c, begin, end, f, buffer);
}
// Any other buffer: element by element.
template <class Policy, class Buffer, class Int>
std::size_t MultiplyRun(std::span<Int> c, std::size_t begin, std::size_t end,
                        const Factor<Buffer, Int>& f, Buffer& buffer, Policy& policy) {
  return policy.template Elements<Shape::kAny, Shape::kAny>(c, begin, end, f, buffer);
}

// The real value of a raw integer of either width (for error messages).
struct RealValue {
  double unit;  // 2^−R
  double operator()(std::int64_t c) const { return static_cast<double>(c) * unit; }
  double operator()(Int128 c) const { return static_cast<double>(c) * unit; }
};

template <class Buffer, class Int>
void ApplyRatios(std::span<Int> c, std::span<const DecayRatio> ratios, bool inverse,
                 Buffer& buffer, RealValue real, double limit) {
  if (c.empty()) return;
  FactorRuns<Buffer, Int> factors(ratios, inverse);
  InOrder in_order;
  for (std::size_t run = 0; run < c.size();) {
    const std::size_t run_end = factors.RunEnd(run, c.size());
    std::size_t i = MultiplyRun(c, run, run_end, factors.At(run), buffer, in_order);
    run = run_end;
    if (i == run_end) continue;
    const Factor<Buffer, Int>& f = factors.At(i);
    const double value = real(c[i]) * f.n / f.d;
    // All-or-nothing: undo the elements already done. Each is exactly invertible and its
    // inverse lands on a value that was representable, so an undo cannot fail; if one did,
    // v and the buffer would no longer be what the caller had, so say so loudly.
    FactorRuns<Buffer, Int> inverses(ratios, !inverse, i);
    for (std::size_t j = i; j-- > 0;) {
      if (!RationalMultiplyElement(c[j], j, inverses.At(j), buffer)) {
        throw std::logic_error("Algorithm 3: undoing element " + std::to_string(j) +
                               " after an overflow at element " + std::to_string(i) +
                               " failed; the vector and buffer are inconsistent");
      }
    }
    throw FixedPointOverflow(i, value, limit);
  }
}

template <class Buffer, class Int>
void ApplyRatiosParallel(std::span<Int> c, std::span<const DecayRatio> ratios, bool inverse,
                         Buffer& buffer, RatioSplit split, RealValue real, double limit) {
  const unsigned threads = split.threads;
  const std::vector<Chunk> pieces = FixedChunks(c.size(), kElementPieces, std::max<std::size_t>(1, split.min_piece), 1);
  if (threads <= 1 || pieces.size() <= 1) {
    return ApplyRatios(c, ratios, inverse, buffer, real, limit);
  }
  std::vector<Piece<Int>> done(pieces.size());
  // Runs `invert` (or not) over piece j's elements: on the first pass all of them, run by run
  // of equal factors (OnItsOwn, in vector registers where MultiplyRun can), stopping at the
  // first that would overflow; on the undo pass those before done[j].end not deferred.
  auto sweep = [&](std::size_t j, bool invert, bool first_pass) {
    Piece<Int>& piece = done[j];
    FactorRuns<Buffer, Int> factors(ratios, invert, pieces[j].begin);
    if (first_pass) {
      OnItsOwn<Int> on_its_own{piece};
      for (std::size_t i = pieces[j].begin; i < pieces[j].end;) {
        const std::size_t run_end = factors.RunEnd(i, pieces[j].end);
        const std::size_t stop = MultiplyRun(c, i, run_end, factors.At(i), buffer, on_its_own);
        if (stop != run_end) {
          piece.overflow = true;
          piece.end = stop;
          return;
        }
        i = run_end;
      }
      piece.end = pieces[j].end;
      return;
    }
    // The undo: deferred elements were not done; those with bookkeeping kept get their value
    // and state back (their pool bookkeeping was not done either); the others are inverted on
    // their own thread, which never needs the pool: each inverse retraces its element's step
    // (the same words move back between the coder and the same top chunk), so it is local
    // whenever the step was (a reviewer's 16,000 overflowing calls never hit the logic_error).
    std::size_t next_deferred = 0, next_in_place = 0;
    for (std::size_t i = pieces[j].begin; i < piece.end; ++i) {
      if (next_deferred < piece.deferred.size() && piece.deferred[next_deferred] == i) {
        ++next_deferred;
        continue;
      }
      if (next_in_place < piece.in_place.size() && piece.in_place[next_in_place].i == i) {
        const InPlace<Int>& before = piece.in_place[next_in_place++];
        c[i] = before.c;
        RestoreState(buffer, i, before.x);
        continue;
      }
      if (MultiplyLocally(c[i], i, factors.At(i), buffer, piece.words,
                          static_cast<std::vector<InPlace<Int>>*>(nullptr)) != Local::kDone) {
        throw std::logic_error("Algorithm 3: undoing element " + std::to_string(i) +
                               " on its own thread failed; the vector and buffer are "
                               "inconsistent");
      }
    }
  };
  ParallelFor(pieces.size(), threads, [&](std::size_t j) { sweep(j, inverse, true); });
  const auto words_and_undo = [&](bool undo) {
    std::ptrdiff_t words = 0;
    for (Piece<Int>& piece : done) words += std::exchange(piece.words, 0);
    AddWords(buffer, words);
    if (!undo) return;
    ParallelFor(pieces.size(), threads, [&](std::size_t j) { sweep(j, !inverse, false); });
    words = 0;
    for (Piece<Int>& piece : done) words += piece.words;
    AddWords(buffer, words);
  };
  const bool overflow =
      std::any_of(done.begin(), done.end(), [](const Piece<Int>& p) { return p.overflow; });
  if (overflow) {
    words_and_undo(true);
    // v and buffer as they were: fails as it does
    return ApplyRatios(c, ratios, inverse, buffer, real, limit);
  }
  words_and_undo(false);
  FactorRuns<Buffer, Int> factors(ratios, inverse);
  for (std::size_t j = 0; j < pieces.size(); ++j) {
    // The deferred elements and the pool bookkeeping kept, merged in index order.
    const std::vector<InPlace<Int>>& in_place = done[j].in_place;
    std::size_t next_in_place = 0;
    const auto bookkeeping_before = [&](std::size_t end) {
      for (; next_in_place < in_place.size() && in_place[next_in_place].i < end; ++next_in_place) {
        PushPopInPlace(buffer, in_place[next_in_place].i);
      }
    };
    for (std::size_t k = 0; k < done[j].deferred.size(); ++k) {
      const std::size_t i = done[j].deferred[k];
      bookkeeping_before(i);
      const Factor<Buffer, Int>& f = factors.At(i);
      if (RationalMultiplyElement(c[i], i, f, buffer)) continue;
      // The first element that overflows (the others are independent of it): undo the deferred
      // ones before it in reverse, then the local ones, and name it. The bookkeeping replayed
      // before it stays done, as one thread's would: there it is undone by steps that find the
      // chunk it set aside still free and change nothing (algorithm3.h: the pool may keep it).
      // Errors other than an overflow (std::bad_alloc while the pool grows) leave the call
      // partly done, on one thread or several, not necessarily in the same way.
      const double value = real(c[i]) * f.n / f.d;
      FactorRuns<Buffer, Int> inverses(ratios, !inverse, i);
      for (std::size_t jj = j + 1; jj-- > 0;) {
        for (std::size_t kk = jj == j ? k : done[jj].deferred.size(); kk-- > 0;) {
          const std::size_t e = done[jj].deferred[kk];
          if (!RationalMultiplyElement(c[e], e, inverses.At(e), buffer)) {
            throw std::logic_error("Algorithm 3: undoing element " + std::to_string(e) +
                                   " after an overflow at element " + std::to_string(i) +
                                   " failed; the vector and buffer are inconsistent");
          }
        }
      }
      words_and_undo(true);
      throw FixedPointOverflow(i, value, limit);
    }
    bookkeeping_before(pieces[j].end);
  }
}

FixedPointFormat FormatOf(const FixedPointVector&);
FixedPointFormat FormatOf(const WideFixedPointVector& v);

template <class Vector>
void Apply(Vector& v, std::span<const DecayRatio> ratios, InfoBuffer& buffer, bool inverse,
           RatioSplit split) {
  const StepPieceTimer timer(StepPiece::kAlgorithm3);
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
  // n − 1 and d − 1 below 65536 (unsigned: 0 wraps above), tested over every ratio without a
  // branch (it vectorises; a test per ratio was ~1.5% of hypergrad's time, perf), then the
  // first offending one found.
  bool any_outside = false;
  for (const DecayRatio r : ratios) any_outside |= ((r.n - 1) | (r.d - 1)) >= 65536u;
  for (std::size_t i = 0; any_outside && i < ratios.size(); ++i) {
    const DecayRatio r = ratios[i];
    if (r.n < 1 || r.d < 1 || r.n > 65536 || r.d > 65536) {
      throw std::invalid_argument(std::string(what) + ": ratio " + std::to_string(i) + " = " +
                                  std::to_string(r.n) + "/" + std::to_string(r.d) +
                                  " is outside [1, 65536]/[1, 65536]");
    }
  }
  const FixedPointFormat format = FormatOf(v);
  const RealValue real{format.Resolution()};
  const double limit = format.Limit();
  // Dispatch once per vector so the per-element buffer operations inline.
  if (auto* fast = dynamic_cast<AnsBuffer*>(&buffer)) {
    ApplyRatiosParallel(v.raw(), ratios, inverse, *fast, split, real, limit);
  } else if (auto* exact = dynamic_cast<ExactBuffer*>(&buffer)) {
    ApplyRatiosParallel(v.raw(), ratios, inverse, *exact, split, real, limit);
  } else {
    VirtualBuffer other{buffer};
    ApplyRatios(v.raw(), ratios, inverse, other, real, limit);
  }
}

FixedPointFormat FormatOf(const FixedPointVector&) { return kPositionFormat; }
FixedPointFormat FormatOf(const WideFixedPointVector& v) { return v.format(); }

}  // namespace

void MultiplyByRatio(FixedPointVector& v, std::span<const DecayRatio> ratios,
                     InfoBuffer& buffer, unsigned threads) {
  Apply(v, ratios, buffer, /*inverse=*/false, {.threads = threads});
}

void MultiplyByRatio(FixedPointVector& v, std::span<const DecayRatio> ratios,
                     InfoBuffer& buffer, RatioSplit split) {
  Apply(v, ratios, buffer, /*inverse=*/false, split);
}

void DivideByRatio(FixedPointVector& v, std::span<const DecayRatio> ratios,
                   InfoBuffer& buffer, unsigned threads) {
  Apply(v, ratios, buffer, /*inverse=*/true, {.threads = threads});
}

void DivideByRatio(FixedPointVector& v, std::span<const DecayRatio> ratios,
                   InfoBuffer& buffer, RatioSplit split) {
  Apply(v, ratios, buffer, /*inverse=*/true, split);
}

void MultiplyByRatio(WideFixedPointVector& v, std::span<const DecayRatio> ratios,
                     InfoBuffer& buffer, RatioSplit split) {
  Apply(v, ratios, buffer, /*inverse=*/false, split);
}

void DivideByRatio(WideFixedPointVector& v, std::span<const DecayRatio> ratios,
                   InfoBuffer& buffer, RatioSplit split) {
  Apply(v, ratios, buffer, /*inverse=*/true, split);
}

void MultiplyByRatio(MomentVector& v, std::span<const DecayRatio> ratios, InfoBuffer& buffer,
                     unsigned threads) {
  std::visit([&](auto& u) { Apply(u, ratios, buffer, /*inverse=*/false, {.threads = threads}); },
             v.values());
}

void DivideByRatio(MomentVector& v, std::span<const DecayRatio> ratios, InfoBuffer& buffer,
                   unsigned threads) {
  std::visit([&](auto& u) { Apply(u, ratios, buffer, /*inverse=*/true, {.threads = threads}); },
             v.values());
}

}  // namespace hypergrad
