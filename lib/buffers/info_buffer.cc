#include "buffers/info_buffer.h"

#include <stdexcept>
#include <string>

#include "buffers/ans_buffer.h"
#include "buffers/exact_buffer.h"

namespace hypergrad {

BufferKind ParseBufferKind(std::string_view name) {
  if (name == "exact") return BufferKind::kExact;
  if (name == "fast") return BufferKind::kFast;
  throw std::invalid_argument("unknown buffer '" + std::string(name) +
                              "' (expected 'exact' or 'fast')");
}

std::string_view BufferKindName(BufferKind kind) {
  return kind == BufferKind::kExact ? "exact" : "fast";
}

std::unique_ptr<InfoBuffer> MakeInfoBuffer(BufferKind kind, std::size_t size) {
  if (kind == BufferKind::kExact) return std::make_unique<ExactBuffer>(size);
  return std::make_unique<AnsBuffer>(size);
}

namespace internal {

void CheckBufferArguments(const InfoBuffer& buffer, std::size_t i, std::uint32_t radix) {
  if (i >= buffer.size()) {
    throw std::invalid_argument(std::string(buffer.name()) + " buffer: element " +
                                std::to_string(i) + " out of range (size " +
                                std::to_string(buffer.size()) + ")");
  }
  if (radix < 1 || radix > InfoBuffer::kMaxRadix) {
    throw std::invalid_argument(std::string(buffer.name()) + " buffer: radix " +
                                std::to_string(radix) + " for element " + std::to_string(i) +
                                " is outside [1, 2^24]");
  }
}

void CheckBufferArguments(const InfoBuffer& buffer, std::size_t i, std::uint32_t digit,
                          std::uint32_t radix) {
  CheckBufferArguments(buffer, i, radix);
  if (digit >= radix) {
    throw std::invalid_argument(std::string(buffer.name()) + " buffer: digit " +
                                std::to_string(digit) + " pushed on element " +
                                std::to_string(i) + " is not below its radix " +
                                std::to_string(radix));
  }
}

}  // namespace internal
}  // namespace hypergrad
