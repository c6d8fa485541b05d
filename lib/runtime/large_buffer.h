// Memory for large scratch buffers: left uninitialised, and backed by 2 MiB pages where the
// kernel offers them. Each first write to a 4 KiB page is a page fault; on the paravirtualised
// 2-core machines this suite is measured on one costs about 7 µs, and a hypergrad run's final
// full-set loss (10,000 MNIST rows, ~37 MB of activations and converted inputs) spent ~60 ms in
// them; one fault per 2 MiB page removes nearly all of that (perf stat, page-faults).
#ifndef HYPERGRAD_RUNTIME_LARGE_BUFFER_H_
#define HYPERGRAD_RUNTIME_LARGE_BUFFER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>

namespace hypergrad {

// The size of a transparent huge page on x86-64.
inline constexpr std::size_t kHugePageBytes = std::size_t{2} << 20;

// A block of `bytes` (a multiple of kHugePageBytes) mapped straight from the kernel on a 2 MiB
// boundary and advised for huge pages; std::bad_alloc if none. Not through operator new or
// malloc: an aligned malloc's usable size varies by up to 2 MiB with where the block lands, which
// made the benchmarks' heap meter (operator new, usable sizes) vary by megabytes between runs.
void* MapHugePages(std::size_t bytes);
void UnmapHugePages(void* block, std::size_t bytes) noexcept;

// Asks the kernel to back the whole 2 MiB pages inside [data, data + bytes) with huge pages
// (madvise MADV_HUGEPAGE); call it before the memory is first written. Only advice: it changes
// no value and does nothing where the kernel has no transparent huge pages or the range holds no
// whole huge page.
void AdviseHugePages(void* data, std::size_t bytes);

// Puts the start of this process's ordinary heap on huge pages. Memory written for the first time
// costs a page fault per page; with 4 KiB pages that was most of a short run's fixed cost on the
// paravirtualised 2-core machines this suite is measured on (about 7 µs a fault: hypergrad
// --iters 1 took 6,360 faults and 0.23 s, and about 1,600 faults and 0.17 s with this call).
// Through glibc's mallopt: blocks below 2 MiB that the heap cannot hold grow the heap instead of
// getting mappings of their own (which are unmapped when freed and fault afresh when asked for
// again); the main heap grows now by 32 MiB of address space (pages are backed only when
// written), advised for huge pages (MADV_HUGEPAGE), and later growths are glibc's as before but
// not advised; up to 64 MiB free at the top of a heap (the main one and the other threads'
// arenas) is kept rather than given back (so freed memory may stay resident up to that much).
// Any block that fits the heap's free space, whatever its size, comes from it (glibc's rule).
// LargeBufferAllocator's blocks of kHugePageBytes or more are mapped apart as before. Where memory
// lies, never a value. Call it first thing in main, before the program's own threads start.
// Returns whether the heap grew and was advised; false and nothing done without glibc 2.33 or
// later or under a sanitizer's allocator; false with only the thresholds set where the heap
// already had 32 MiB free, could not grow, or lies in mappings (glibc's hugetlb tunable).
bool UseHugePagesForTheHeap();

// std::allocator, except that (1) construct() without arguments leaves a value uninitialised
// (default-initialised: no value for a double), so a vector's resize writes nothing — for
// buffers written whole before they are read; (2) an allocation of at least kHugePageBytes
// is rounded up to whole huge pages and mapped by MapHugePages.
template <class T>
struct LargeBufferAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = LargeBufferAllocator<U>;
  };
  LargeBufferAllocator() = default;
  template <class U>
  LargeBufferAllocator(const LargeBufferAllocator<U>&) noexcept {}

  T* allocate(std::size_t n) {
    if (n > kMaxBytes / sizeof(T)) throw std::bad_array_new_length();
    const std::size_t bytes = n * sizeof(T);
    if (bytes < kHugePageBytes) return std::allocator<T>::allocate(n);
    return static_cast<T*>(MapHugePages(RoundedBytes(bytes)));
  }
  void deallocate(T* p, std::size_t n) noexcept {
    const std::size_t bytes = n * sizeof(T);
    if (bytes < kHugePageBytes) return std::allocator<T>::deallocate(p, n);
    UnmapHugePages(p, RoundedBytes(bytes));
  }

  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }

 private:
  // What an allocation may ask for (std::allocator's bound, rounded down to whole huge pages).
  static constexpr std::size_t kMaxBytes =
      (std::size_t{PTRDIFF_MAX} / kHugePageBytes) * kHugePageBytes;
  static std::size_t RoundedBytes(std::size_t bytes) {
    return (bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
  }
};

template <class T, class U>
bool operator==(const LargeBufferAllocator<T>&, const LargeBufferAllocator<U>&) noexcept {
  return true;
}

}  // namespace hypergrad

#endif  // HYPERGRAD_RUNTIME_LARGE_BUFFER_H_
