#include "runtime/large_buffer.h"

#include <sys/mman.h>

#include <cstdint>
#include <new>

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

}  // namespace hypergrad
