// Measured heap memory for the benchmarks: the binary that links heap_meter.cc replaces the
// global operator new/delete with versions that count live bytes (malloc_usable_size, so
// allocator rounding is included) and the peak since the last ResetPeak(). Memory allocated
// with malloc directly (OpenBLAS's work buffers) is not seen; it is the same for every method.
#ifndef HYPERGRAD_EXPERIMENTS_BENCH_HEAP_METER_H_
#define HYPERGRAD_EXPERIMENTS_BENCH_HEAP_METER_H_

#include <cstddef>

namespace hypergrad::bench {

struct HeapMeter {
  // Bytes currently allocated through operator new.
  static std::size_t Current();
  // Largest Current() since the last ResetPeak().
  static std::size_t Peak();
  // Starts a new peak measurement from Current().
  static void ResetPeak();
};

}  // namespace hypergrad::bench

#endif  // HYPERGRAD_EXPERIMENTS_BENCH_HEAP_METER_H_
