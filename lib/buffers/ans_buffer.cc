#include "buffers/ans_buffer.h"

#include <cmath>

namespace hypergrad {

void AnsBuffer::Push(std::size_t i, std::uint32_t digit, std::uint32_t radix) {
  internal::CheckBufferArguments(*this, i, digit, radix);
  PushUnchecked(i, digit, radix);
}

std::uint32_t AnsBuffer::Pop(std::size_t i, std::uint32_t radix) {
  internal::CheckBufferArguments(*this, i, radix);
  return PopUnchecked(i, radix);
}

double AnsBuffer::InformationBits() const {
  // The pair (x, words) stands for the integer x·2^(16·words) + (the words as digits).
  double bits = static_cast<double>(kWordBits) * static_cast<double>(stacks_.total_words());
  for (const std::uint64_t x : state_) {
    if (x > 1) bits += std::log2(static_cast<double>(x));
  }
  return bits;
}

std::size_t AnsBuffer::AllocatedBytes() const {
  return state_.capacity() * sizeof(std::uint64_t) + stacks_.AllocatedBytes();
}

bool AnsBuffer::Empty() const {
  if (stacks_.total_words() != 0) return false;
  for (const std::uint64_t x : state_) {
    if (x != 0) return false;
  }
  return true;
}

}  // namespace hypergrad
