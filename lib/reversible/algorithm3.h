// Algorithm 3: exact multiplication of a fixed-point vector by a decay's ratio n/d (SGD's γ, Adam's
// β1, β2, RMSprop's ρ, μ), with the information it destroys saved in an information buffer, and its
// exact inverse.
#ifndef HYPERGRAD_REVERSIBLE_ALGORITHM3_H_
#define HYPERGRAD_REVERSIBLE_ALGORITHM3_H_

#include <span>

#include "arithmetic/fixed_point.h"
#include "buffers/info_buffer.h"
#include "arithmetic/rational.h"
#include "runtime/parallel.h"

namespace hypergrad {

// v_i ← v_i · n_i / d_i exactly, per element i, in the paper's order (the authors' rational_mul,
// hypergrad/exact_rep.py):
//   B ← B·d + (c mod d);  c ← c div d;  c ← c·n;  c ← c + (B mod n);  B ← B div n
// with floor division and non-negative modulo. `ratios` has one entry per element of v, or a
// single entry used for all. `buffer` must have v.size() elements.
// Throws std::invalid_argument on size mismatches or a ratio outside [1, 65536]/[1, 65536], and
// FixedPointOverflow naming the element if a result leaves (-2048, 2048) (possible only for
// n > d); in both cases v and what buffer holds (values, coder states, stored words) are left
// unchanged. (The fast buffer's chunk pool may not be: an element done before the overflow
// and undone after it may have set a fresh chunk aside on the free list, WordStacks::
// PushPopInPlace, which stays there, free; AllocatedBytes may report it. Found by a reviewer's
// harness: a one-thread overflow after a start-up state on an empty stack.)
// With `threads` > 1, the exact and fast buffers work on pieces of v in parallel (a fixed split,
// parallel.h): v, the buffer and every error are the same bits as with one thread. (One
// difference: after an overflow the exact buffer's integers hold the same values but may keep
// more limbs allocated, as the parallel work was done and undone; AllocatedBytes reports it.)
void MultiplyByRatio(FixedPointVector& v, std::span<const DecayRatio> ratios,
                     InfoBuffer& buffer, unsigned threads = 1);

// How the parallel form splits v: at most kElementPieces pieces of at least `min_piece` elements,
// fixed by v's size. The default, the element loops' split (parallel.h), suits training (a piece
// is microseconds to tens of microseconds); the fuzzer uses
// pieces of one to three elements to exercise the parallel path on small vectors. The results
// are the same bits for any split and thread count.
struct RatioSplit {
  unsigned threads = 1;
  std::size_t min_piece = kMinElementsPerPiece;
};
void MultiplyByRatio(FixedPointVector& v, std::span<const DecayRatio> ratios,
                     InfoBuffer& buffer, RatioSplit split);

// The exact inverse of MultiplyByRatio with the same ratios: v_i ← v_i · d_i / n_i, reading back
// the digits it saved. After MultiplyByRatio(v, r, B) then DivideByRatio(v, r, B), v and B hold
// exactly the bits they held before. Same contract and errors as MultiplyByRatio.
void DivideByRatio(FixedPointVector& v, std::span<const DecayRatio> ratios,
                   InfoBuffer& buffer, unsigned threads = 1);
void DivideByRatio(FixedPointVector& v, std::span<const DecayRatio> ratios,
                   InfoBuffer& buffer, RatioSplit split);

// The same on 128-bit fixed point (fixed_point.h): the same digits (< 2^16) go to the same
// buffers, so a step costs the same log2(d/n) bits; the quotient ⌊c/d⌋ is formed in 128 bits.
// An overflow (a result of magnitude ≥ the format's limit 2^(127−R)) names the element and the
// format's limit.
void MultiplyByRatio(WideFixedPointVector& v, std::span<const DecayRatio> ratios,
                     InfoBuffer& buffer, RatioSplit split);
void DivideByRatio(WideFixedPointVector& v, std::span<const DecayRatio> ratios,
                   InfoBuffer& buffer, RatioSplit split);
// Either width: what the trajectories call on an optimizer's moments.
void MultiplyByRatio(MomentVector& v, std::span<const DecayRatio> ratios, InfoBuffer& buffer,
                     unsigned threads = 1);
void DivideByRatio(MomentVector& v, std::span<const DecayRatio> ratios, InfoBuffer& buffer,
                   unsigned threads = 1);

}  // namespace hypergrad

#endif  // HYPERGRAD_REVERSIBLE_ALGORITHM3_H_
