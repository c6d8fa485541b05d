// libFuzzer target: the information buffers and Algorithm 3 against a big-integer reference model
// (push: B ← B·M + N; pop: N = B mod M, B ← ⌊B / M⌋). Each input is a program: a buffer kind, a
// vector of values over the whole int64 range (or, for about half the inputs, chosen from the
// input's size, 128-bit fixed point over the whole int128 range: Adam's moments), then a random
// interleaving of pushes, pops (radices 1 … 2^16 + 1), multiplies and divides by per-element ratios
// n/d (1 … 2^16 + 1, where 2^16 + 1 must be refused). Checked at every step: the exact buffer pops
// what the model pops; Algorithm 3 gives the model's result, or overflows exactly when the model's
// result leaves (−2^63, 2^63) (or (−2^127, 2^127)) and then changes nothing. At the end every
// operation is undone in reverse order: the values and an empty buffer must come back bit for bit,
// for both buffers. Algorithm 3 runs in its parallel form (1 to 3 threads, pieces of 1 to 3
// elements, chosen from the input's size so that the inputs' meaning is unchanged) beside a
// one-thread shadow run: values, buffer contents and errors must be the same after every operation.
//
//   make fuzz                      # runs it for FUZZ_SECONDS with a corpus under build-fuzz/
//   build-fuzz/buffer_fuzz -runs=N # what make test runs (a fixed count)
#include <fuzzer/FuzzedDataProvider.h>

#include <boost/multiprecision/cpp_int.hpp>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <vector>

#include "buffers/ans_buffer.h"
#include "buffers/exact_buffer.h"
#include "reversible/algorithm3.h"
#include "arithmetic/fixed_point.h"
#include "buffers/info_buffer.h"

namespace {

using hypergrad::BufferKind;
using hypergrad::FixedPointOverflow;
using hypergrad::FixedPointVector;
using hypergrad::Int128;
using hypergrad::WideFixedPointVector;
using hypergrad::InfoBuffer;
using hypergrad::DecayRatio;
using BigInt = boost::multiprecision::cpp_int;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "buffer_fuzz: %s\n", what);
  std::abort();
}
#define CHECK(condition) \
  do {                   \
    if (!(condition)) Fail(#condition); \
  } while (0)

// Floor division and non-negative remainder on big integers.
void FloorDivMod(const BigInt& c, const BigInt& m, BigInt& q, BigInt& r) {
  q = c / m;
  r = c % m;
  if (r < 0) {
    r += m;
    q -= 1;
  }
}

// Whether two buffers hold the same: per element, the fast buffer's coder state or the exact
// buffer's integer, the same total information, and for the fast buffer the same bytes (its
// chunk pool sees the same operations in the same order). The exact buffer's bytes are not
// compared: after an overflow the parallel form has multiplied and divided its integers back,
// same values, possibly more limbs allocated (algorithm3.h).
bool SameContents(const InfoBuffer& a, const InfoBuffer& b) {
  if (a.InformationBits() != b.InformationBits()) return false;
  if (a.name() == "fast" && a.AllocatedBytes() != b.AllocatedBytes()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (const auto* fa = dynamic_cast<const hypergrad::AnsBuffer*>(&a)) {
      if (fa->state(i) != dynamic_cast<const hypergrad::AnsBuffer&>(b).state(i)) return false;
    } else if (dynamic_cast<const hypergrad::ExactBuffer&>(a).integer(i) !=
               dynamic_cast<const hypergrad::ExactBuffer&>(b).integer(i)) {
      return false;
    }
  }
  return true;
}

// The two widths: how a vector is made and how a raw value is drawn (never the most negative
// integer, which is outside the fixed-point range).
template <class Vector>
struct Width;
template <>
struct Width<FixedPointVector> {
  using Int = std::int64_t;
  static FixedPointVector Make(std::size_t n) { return FixedPointVector(n); }
  static Int Draw(FuzzedDataProvider& in) {
    const Int c = in.ConsumeIntegral<std::int64_t>();
    return c == std::numeric_limits<std::int64_t>::min() ? c + 1 : c;
  }
  static BigInt Low() { return BigInt(std::numeric_limits<std::int64_t>::min()); }
};
template <>
struct Width<WideFixedPointVector> {
  using Int = Int128;
  static WideFixedPointVector Make(std::size_t n) { return WideFixedPointVector(n, 116); }
  static Int Draw(FuzzedDataProvider& in) {
    const std::int64_t high = in.ConsumeIntegral<std::int64_t>();
    const std::uint64_t low = in.ConsumeIntegral<std::uint64_t>();
    const Int c = static_cast<Int>((static_cast<unsigned __int128>(high) << 64) | low);
    return c == Low128() ? c + 1 : c;
  }
  static Int Low128() { return static_cast<Int>(static_cast<unsigned __int128>(1) << 127); }
  static BigInt Low() { return -(BigInt(1) << 127); }
};

// A raw integer of either width as a big integer.
BigInt Big(std::int64_t c) { return BigInt(c); }
BigInt Big(Int128 c) {
  const bool negative = c < 0;
  const unsigned __int128 u = negative ? static_cast<unsigned __int128>(0) - static_cast<unsigned __int128>(c)
                                       : static_cast<unsigned __int128>(c);
  BigInt b = (BigInt(static_cast<std::uint64_t>(u >> 64)) << 64) + BigInt(static_cast<std::uint64_t>(u));
  return negative ? BigInt(-b) : b;
}

// Algorithm 3 as `split` says; returns 0 (done), 1 (invalid argument) or 2 + the overflowing
// element's index.
template <class Vector>
std::size_t Apply(Vector& v, const std::vector<DecayRatio>& ratios, InfoBuffer& buffer,
                  bool divide, hypergrad::RatioSplit split) {
  try {
    if (divide) {
      hypergrad::DivideByRatio(v, ratios, buffer, split);
    } else {
      hypergrad::MultiplyByRatio(v, ratios, buffer, split);
    }
    return 0;
  } catch (const std::invalid_argument&) {
    return 1;
  } catch (const FixedPointOverflow& e) {
    return 2 + e.index();
  }
}

// One done operation, to undo in reverse order.
struct Done {
  enum Kind { kPush, kPop, kMultiply, kDivide } kind;
  std::size_t element = 0;
  std::uint32_t digit = 0, radix = 0;
  std::vector<DecayRatio> ratios;
};

template <class Vector>
int Run(FuzzedDataProvider& in, std::size_t size) {
  using W = Width<Vector>;
  const BufferKind kind = in.ConsumeBool() ? BufferKind::kExact : BufferKind::kFast;
  const bool exact = kind == BufferKind::kExact;
  const std::size_t n = in.ConsumeIntegralInRange<std::size_t>(1, 8);
  Vector v = W::Make(n);
  for (auto& c : v.raw()) c = W::Draw(in);
  const Vector original = v;
  auto buffer = hypergrad::MakeInfoBuffer(kind, n);
  auto shadow_buffer = hypergrad::MakeInfoBuffer(kind, n);  // the one-thread run
  Vector shadow = v;
  const hypergrad::RatioSplit split{static_cast<unsigned>(1 + size % 3), 1 + (size / 3) % 3};
  std::vector<BigInt> model(n, 0);  // the authors' unbounded integers (exact buffer only)
  std::vector<Done> done;
  const BigInt low = W::Low(), high = -low - 1;

  for (int step = 0; step < 64 && in.remaining_bytes() > 0; ++step) {
    const int op = in.ConsumeIntegralInRange<int>(0, 3);
    if (op <= 1) {  // push or pop one element
      const std::size_t i = in.ConsumeIntegralInRange<std::size_t>(0, n - 1);
      const std::uint32_t radix = in.ConsumeIntegralInRange<std::uint32_t>(1, 65537);
      if (op == 0) {
        const std::uint32_t digit = in.ConsumeIntegralInRange<std::uint32_t>(0, radix - 1);
        buffer->Push(i, digit, radix);
        shadow_buffer->Push(i, digit, radix);
        model[i] = model[i] * radix + digit;
        done.push_back({Done::kPush, i, digit, radix, {}});
      } else {
        const std::uint32_t digit = buffer->Pop(i, radix);
        CHECK(shadow_buffer->Pop(i, radix) == digit);
        CHECK(digit < radix);
        if (exact) CHECK(BigInt(digit) == model[i] % radix);
        model[i] /= radix;
        done.push_back({Done::kPop, i, digit, radix, {}});
      }
      continue;
    }
    // Algorithm 3 with per-element ratios (or one for all).
    const bool broadcast = in.ConsumeBool();
    std::vector<DecayRatio> ratios(broadcast ? 1 : n);
    bool valid = true;
    for (auto& r : ratios) {
      r.n = in.ConsumeIntegralInRange<std::uint32_t>(1, 65537);
      r.d = in.ConsumeIntegralInRange<std::uint32_t>(1, 65537);
      valid = valid && r.n <= 65536 && r.d <= 65536;
    }
    const bool divide = op == 3;
    const Vector before = v;
    const std::vector<BigInt> model_before = model;
    // The model: Algorithm 3 element by element (divide = multiply by d/n).
    // The fast buffer pops other digits than the model: for it, overflow is certain only when
    // every digit in [0, num) overflows, and impossible only when none does.
    std::vector<BigInt> expected(n);
    bool overflow = false, must_overflow = false, may_overflow = false;
    for (std::size_t i = 0; i < n && valid; ++i) {
      const DecayRatio r = ratios[broadcast ? 0 : i];
      const std::uint32_t num = divide ? r.d : r.n, den = divide ? r.n : r.d;
      BigInt q, rem;
      FloorDivMod(Big(v.raw()[i]), BigInt(den), q, rem);
      model[i] = model[i] * den + rem;
      const BigInt digit = model[i] % num;
      model[i] /= num;
      expected[i] = q * num + digit;
      if (expected[i] <= low || expected[i] > high) overflow = true;
      const BigInt smallest = q * num, largest = q * num + (num - 1);
      if (largest <= low || smallest > high) must_overflow = true;
      if (smallest <= low || largest > high) may_overflow = true;
    }
    const std::size_t shadow_outcome = Apply(shadow, ratios, *shadow_buffer, divide, {});
    try {
      if (divide) {
        hypergrad::DivideByRatio(v, ratios, *buffer, split);
      } else {
        hypergrad::MultiplyByRatio(v, ratios, *buffer, split);
      }
      CHECK(shadow_outcome == 0);
      CHECK(valid && (exact ? !overflow : !must_overflow));
      if (exact) {
        for (std::size_t i = 0; i < n; ++i) CHECK(Big(v.raw()[i]) == expected[i]);
      }
      done.push_back({divide ? Done::kDivide : Done::kMultiply, 0, 0, 0, ratios});
    } catch (const std::invalid_argument&) {
      CHECK(shadow_outcome == 1);
      CHECK(!valid);
      CHECK(v == before);
      model = model_before;
    } catch (const FixedPointOverflow& e) {
      CHECK(shadow_outcome == 2 + e.index());  // the same element named
      CHECK(valid && (exact ? overflow : may_overflow));
      CHECK(v == before);  // all or nothing
      model = model_before;
    }
    CHECK(v == shadow);
    CHECK(SameContents(*buffer, *shadow_buffer));
  }
  // Undo everything in reverse order.
  for (auto it = done.rbegin(); it != done.rend(); ++it) {
    switch (it->kind) {
      case Done::kPush: CHECK(buffer->Pop(it->element, it->radix) == it->digit); break;
      case Done::kPop: buffer->Push(it->element, it->digit, it->radix); break;
      case Done::kMultiply: hypergrad::DivideByRatio(v, it->ratios, *buffer, split); break;
      case Done::kDivide: hypergrad::MultiplyByRatio(v, it->ratios, *buffer, split); break;
    }
  }
  CHECK(v == original);
  CHECK(buffer->Empty());
  return 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  // The width from the size, like the split: inputs kept from before keep their meaning when
  // (size / 9) is even.
  if ((size / 9) % 2 == 1) return Run<WideFixedPointVector>(in, size);
  return Run<FixedPointVector>(in, size);
}
