// Random push/pop interleavings for information-buffer tests, and their exact undo.
#ifndef HYPERGRAD_TESTS_SUPPORT_BUFFER_OPS_H_
#define HYPERGRAD_TESTS_SUPPORT_BUFFER_OPS_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "buffers/info_buffer.h"
#include "random/random.h"

namespace hypergrad::testing {

struct BufferOp {
  bool push;
  std::size_t element;
  std::uint32_t radix;
  std::uint32_t digit;  // pushed digit, or (after Apply) the digit the pop returned
};

struct RandomOpsOptions {
  std::size_t count = 1000;
  std::size_t elements = 10;
  double push_fraction = 0.75;
  std::uint32_t min_radix = 1;
  std::uint32_t max_radix = 200;
};

// A random sequence of operations (the digits of pops are filled in by Apply).
inline std::vector<BufferOp> RandomOps(const RandomOpsOptions& options, std::uint64_t seed) {
  RandomStream rng(seed);
  std::vector<BufferOp> ops(options.count);
  for (BufferOp& op : ops) {
    op.push = rng.Uniform() < options.push_fraction;
    op.element = rng.UniformInt(options.elements);
    op.radix = options.min_radix +
               static_cast<std::uint32_t>(rng.UniformInt(options.max_radix - options.min_radix + 1));
    op.digit = op.push ? static_cast<std::uint32_t>(rng.UniformInt(op.radix)) : 0;
  }
  return ops;
}

// Applies `ops` in order; records each popped digit (and checks it is below its radix).
inline void Apply(InfoBuffer& buffer, std::vector<BufferOp>& ops) {
  for (BufferOp& op : ops) {
    if (op.push) {
      buffer.Push(op.element, op.digit, op.radix);
    } else {
      op.digit = buffer.Pop(op.element, op.radix);
      ASSERT_LT(op.digit, op.radix);
    }
  }
}

// Undoes `ops` in reverse order: every pushed digit must come back exactly. Returns the number
// of mismatches.
inline std::size_t Undo(InfoBuffer& buffer, const std::vector<BufferOp>& ops) {
  std::size_t mismatches = 0;
  for (auto op = ops.rbegin(); op != ops.rend(); ++op) {
    if (op->push) {
      mismatches += buffer.Pop(op->element, op->radix) != op->digit;
    } else {
      buffer.Push(op->element, op->digit, op->radix);
    }
  }
  return mismatches;
}

}  // namespace hypergrad::testing

#endif  // HYPERGRAD_TESTS_SUPPORT_BUFFER_OPS_H_
