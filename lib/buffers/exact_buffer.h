// The reference information buffer: one unbounded integer per element (Boost.Multiprecision
// cpp_int), exactly the authors' semantics. Cost per operation grows with the integer's length,
// so long runs belong to AnsBuffer; this one is the oracle the fast buffer is tested against.
#ifndef HYPERGRAD_BUFFERS_EXACT_BUFFER_H_
#define HYPERGRAD_BUFFERS_EXACT_BUFFER_H_

#include <boost/multiprecision/cpp_int.hpp>
#include <cstdint>
#include <vector>

#include "buffers/info_buffer.h"

namespace hypergrad {

class ExactBuffer final : public InfoBuffer {
 public:
  explicit ExactBuffer(std::size_t size) : integers_(size) {}

  std::string_view name() const override { return "exact"; }
  std::size_t size() const override { return integers_.size(); }
  void Push(std::size_t i, std::uint32_t digit, std::uint32_t radix) override;
  std::uint32_t Pop(std::size_t i, std::uint32_t radix) override;
  double InformationBits() const override;
  std::size_t AllocatedBytes() const override;
  bool Empty() const override;
  std::unique_ptr<InfoBuffer> Clone() const override { return std::make_unique<ExactBuffer>(*this); }

  // Unchecked forms for the hot loop of Algorithm 3 (same contract, arguments not validated).
  static std::uint32_t Prepare(std::uint32_t radix) { return radix; }  // nothing to precompute
  void PushUnchecked(std::size_t i, std::uint32_t digit, std::uint32_t radix) {
    auto& b = integers_[i];
    b *= radix;
    b += digit;
  }
  std::uint32_t PopUnchecked(std::size_t i, std::uint32_t radix) {
    auto& b = integers_[i];
    if (b.is_zero()) return 0;
    const auto digit =
        static_cast<std::uint32_t>(boost::multiprecision::integer_modulus(b, radix));
    b /= radix;
    return digit;
  }

  // Element i's integer, for tests.
  const boost::multiprecision::cpp_int& integer(std::size_t i) const { return integers_[i]; }

 private:
  std::vector<boost::multiprecision::cpp_int> integers_;
};

}  // namespace hypergrad

#endif  // HYPERGRAD_BUFFERS_EXACT_BUFFER_H_
