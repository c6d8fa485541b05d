#include "runtime/large_buffer.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <new>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

// UseHugePagesForTheHeap needs glibc's mallopt and mallinfo2 (glibc 2.33 and later).
#if defined(__GLIBC__) && defined(__GLIBC_PREREQ)
#if __GLIBC_PREREQ(2, 33)
#define HYPERGRAD_GLIBC_MALLOC 1
#endif
#endif

// A sanitizer's allocator replaces glibc's (UseHugePagesForTheHeap leaves it alone).
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define HYPERGRAD_SANITIZER_ALLOCATOR 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define HYPERGRAD_SANITIZER_ALLOCATOR 1
#endif

namespace hypergrad {

void AdviseHugePages(void* data, std::size_t bytes) {
#ifdef MADV_HUGEPAGE
  const auto begin = reinterpret_cast<std::uintptr_t>(data);
  const std::uintptr_t first = (begin + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
  const std::uintptr_t last = (begin + bytes) / kHugePageBytes * kHugePageBytes;
  // Advice only: a kernel without transparent huge pages refuses it (EINVAL), which changes
  // nothing, so the result is not checked.
  if (last > first) (void)madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
#else
  (void)data;
  (void)bytes;
#endif
}

void* MapHugePages(std::size_t bytes) {
  // Map 2 MiB more than asked, then give back what lies before the first 2 MiB boundary and
  // after the block.
  const std::size_t mapped = bytes + kHugePageBytes;
  void* raw = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const auto begin = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t first = (begin + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
  if (first > begin) munmap(raw, first - begin);
  const std::size_t tail = begin + mapped - (first + bytes);
  if (tail > 0) munmap(reinterpret_cast<void*>(first + bytes), tail);
  void* block = reinterpret_cast<void*>(first);
  AdviseHugePages(block, bytes);
  return block;
}

void UnmapHugePages(void* block, std::size_t bytes) noexcept { munmap(block, bytes); }

bool UseHugePagesForTheHeap() {
#if defined(HYPERGRAD_GLIBC_MALLOC) && defined(MADV_HUGEPAGE) && !defined(HYPERGRAD_SANITIZER_ALLOCATOR)
  // The contract's numbers: the heap grown and advised once by 32 MiB; blocks below 2 MiB from the
  // heap; the free top kept up to 64 MiB (more than the growth, so that it is not given back).
  constexpr int kAdvisedBytes = 32 << 20, kMmapThreshold = 2 << 20, kTrimThreshold = 64 << 20;
  constexpr int kDefaultTopPad = 128 * 1024;  // M_TOP_PAD's default (mallopt(3))
  if (mallopt(M_MMAP_THRESHOLD, kMmapThreshold) == 0) return false;
  if (mallopt(M_TRIM_THRESHOLD, kTrimThreshold) == 0) return false;
  // The free space at the heap's top (mallinfo2's keepcost) and a block it cannot hold: with the
  // pad, malloc grows the heap by kAdvisedBytes now; freed, the block joins the top again, which
  // stays (less than the trim threshold lies free). The pad goes back to glibc's default, so that
  // later growths, and the other threads' arenas, are as before. volatile: a compiler may drop a
  // malloc whose block is only freed.
  const std::size_t top = mallinfo2().keepcost;
  auto* const before = static_cast<char*>(sbrk(0));
  if (before == reinterpret_cast<char*>(-1) || top >= std::size_t{kAdvisedBytes}) return false;
  (void)mallopt(M_TOP_PAD, kAdvisedBytes);
  char* volatile block = static_cast<char*>(std::malloc(top + (std::size_t{1} << 20)));
  (void)mallopt(M_TOP_PAD, kDefaultTopPad);
  auto* const after = static_cast<char*>(sbrk(0));
  char* const from = before - top;
  // Advised only where the block came from the program break's heap and that heap grew: glibc may
  // keep its main heap in mappings instead (then `from` is no heap memory at all).
  const bool on_the_heap = block != nullptr && block >= from && block < after && after > before;
  std::free(block);
  if (!on_the_heap || static_cast<std::size_t>(after - from) < kHugePageBytes) return false;
  AdviseHugePages(from, static_cast<std::size_t>(after - from));
  return true;
#else
  return false;
#endif
}

}  // namespace hypergrad
