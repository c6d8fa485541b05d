#include "runtime/large_buffer.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <new>

#if defined(__GLIBC__)
#include <malloc.h>
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
#if defined(__GLIBC__) && defined(MADV_HUGEPAGE) && !defined(HYPERGRAD_SANITIZER_ALLOCATOR)
  // glibc's bound on M_MMAP_THRESHOLD is 32 MiB on 64-bit machines (HEAP_MAX_SIZE / 2).
  if (mallopt(M_MMAP_THRESHOLD, 32 << 20) == 0) return false;
  (void)mallopt(M_TRIM_THRESHOLD, 1 << 30);
  (void)mallopt(M_TOP_PAD, 256 << 20);
  // The free space at the heap's top (mallinfo2's keepcost) and a block it cannot hold, which
  // makes malloc grow the heap now, by the pad; freed, the block joins the top again (below the
  // trim threshold, so the heap keeps it). The free top and the growth are advised. volatile: a
  // compiler may drop a malloc whose block is only freed.
  const std::size_t top = mallinfo2().keepcost;
  auto* const before = static_cast<char*>(sbrk(0));
  if (before == reinterpret_cast<char*>(-1)) return false;
  if (top < (std::size_t{16} << 20)) {
    void* volatile block = std::malloc(top + (std::size_t{1} << 20));
    std::free(block);
  }
  auto* const after = static_cast<char*>(sbrk(0));
  char* const from = before - top;
  if (after == reinterpret_cast<char*>(-1) || after < from ||
      static_cast<std::size_t>(after - from) < kHugePageBytes) {
    return false;  // no room to advise (e.g. brk refused to grow)
  }
  AdviseHugePages(from, static_cast<std::size_t>(after - from));
  return true;
#else
  return false;
#endif
}

}  // namespace hypergrad
