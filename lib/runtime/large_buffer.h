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
