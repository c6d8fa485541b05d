// The information buffer of Algorithm 3: per element, a stack of digits that stores exactly the
// information that multiplying a fixed-point velocity by γ < 1 would otherwise destroy.
//
// Semantics (the authors' BitStore, hypergrad/exact_rep.py): element i holds a non-negative
// integer B_i.
//   Push(i, digit, radix): B_i ← B_i · radix + digit
//   Pop(i, radix):         digit ← B_i mod radix, B_i ← ⌊B_i / radix⌋
// Popping an empty (zero) buffer returns 0 and leaves it empty. Any sequence of pushes and pops,
// on any elements, is undone exactly by the inverse operations in the reverse order (a pop
// undone by pushing the digit it returned, a push undone by a pop of the same radix, which
// returns the pushed digit).
//
// Two implementations behind this interface, one file each:
//   ExactBuffer (exact_buffer.h): one unbounded integer per element, the authors' semantics.
//   AnsBuffer   (ans_buffer.h):   bounded per-element state plus a word stack (asymmetric
//                                 numeral systems); O(1) per operation. Its popped digits differ
//                                 from ExactBuffer's (any digit in [0, radix) keeps Algorithm 3
//                                 exact), so forward trajectories differ in the last bits.
#ifndef HYPERGRAD_BUFFERS_INFO_BUFFER_H_
#define HYPERGRAD_BUFFERS_INFO_BUFFER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace hypergrad {

class InfoBuffer {
 public:
  // Largest radix accepted by every implementation (2^24: the fast buffer's coding total).
  static constexpr std::uint32_t kMaxRadix = 1u << 24;

  virtual ~InfoBuffer() = default;

  // "exact" or "fast", as accepted by ParseBufferKind.
  virtual std::string_view name() const = 0;
  // Number of elements.
  virtual std::size_t size() const = 0;

  // B_i ← B_i · radix + digit. Requires i < size(), 1 ≤ radix ≤ kMaxRadix, digit < radix;
  // throws std::invalid_argument (naming the element) otherwise.
  virtual void Push(std::size_t i, std::uint32_t digit, std::uint32_t radix) = 0;
  // Returns B_i mod radix and divides B_i by radix (0 and no change when B_i = 0).
  // Requires i < size() and 1 ≤ radix ≤ kMaxRadix; throws std::invalid_argument otherwise.
  virtual std::uint32_t Pop(std::size_t i, std::uint32_t radix) = 0;

  // Information held, in bits: Σ_i log2(B_i) over non-zero elements for the exact buffer, the
  // equivalent for the fast buffer. This is what an ideal coder would need to store.
  virtual double InformationBits() const = 0;
  // Bytes of memory the buffer actually holds (element states, integers, word stacks,
  // including allocator slack it knows of).
  virtual std::size_t AllocatedBytes() const = 0;
  // True when every element is empty (B_i = 0), e.g. after a complete reverse pass.
  virtual bool Empty() const = 0;
  // An independent copy holding the same information (checkpointing snapshots).
  virtual std::unique_ptr<InfoBuffer> Clone() const = 0;
};

enum class BufferKind { kExact, kFast };

// "exact" → kExact, "fast" → kFast; throws std::invalid_argument for anything else.
BufferKind ParseBufferKind(std::string_view name);
std::string_view BufferKindName(BufferKind kind);

// A buffer of `size` empty elements.
std::unique_ptr<InfoBuffer> MakeInfoBuffer(BufferKind kind, std::size_t size);

namespace internal {
// Validates the arguments of Pop (and, with a digit, of Push) for the implementations; throws
// std::invalid_argument naming the buffer, the element and what is out of range.
void CheckBufferArguments(const InfoBuffer& buffer, std::size_t i, std::uint32_t radix);
void CheckBufferArguments(const InfoBuffer& buffer, std::size_t i, std::uint32_t digit,
                          std::uint32_t radix);
}  // namespace internal

}  // namespace hypergrad

#endif  // HYPERGRAD_BUFFERS_INFO_BUFFER_H_
