#include "buffers/exact_buffer.h"

#include <cmath>

namespace hypergrad {

void ExactBuffer::Push(std::size_t i, std::uint32_t digit, std::uint32_t radix) {
  internal::CheckBufferArguments(*this, i, digit, radix);
  PushUnchecked(i, digit, radix);
}

std::uint32_t ExactBuffer::Pop(std::size_t i, std::uint32_t radix) {
  internal::CheckBufferArguments(*this, i, radix);
  return PopUnchecked(i, radix);
}

double ExactBuffer::InformationBits() const {
  double bits = 0.0;
  for (const auto& b : integers_) {
    if (b.is_zero()) continue;
    // log2(B) from the top 53 bits and the bit position: exact enough for any length.
    const auto top = static_cast<double>(boost::multiprecision::msb(b));
    const unsigned shift = top > 52 ? static_cast<unsigned>(top) - 52 : 0u;
    const double mantissa = static_cast<double>(b >> shift);
    bits += std::log2(mantissa) + shift;
  }
  return bits;
}

std::size_t ExactBuffer::AllocatedBytes() const {
  std::size_t bytes = integers_.capacity() * sizeof(boost::multiprecision::cpp_int);
  using Backend = boost::multiprecision::cpp_int::backend_type;
  for (const auto& b : integers_) {
    // Limbs beyond the in-object storage live on the heap.
    const unsigned limbs = b.backend().capacity();
    if (limbs > Backend::internal_limb_count) {
      bytes += limbs * sizeof(boost::multiprecision::limb_type);
    }
  }
  return bytes;
}

bool ExactBuffer::Empty() const {
  for (const auto& b : integers_) {
    if (!b.is_zero()) return false;
  }
  return true;
}

}  // namespace hypergrad
