#include "heap_meter.h"

#include <malloc.h>

#include <atomic>
#include <cstdlib>
#include <new>

namespace hypergrad::bench {
namespace {

std::atomic<std::size_t> current_bytes{0};
std::atomic<std::size_t> peak_bytes{0};

void* Allocate(std::size_t n, std::size_t alignment) {
  if (n == 0) n = 1;
  void* p = alignment <= alignof(std::max_align_t)
                ? std::malloc(n)
                : std::aligned_alloc(alignment, (n + alignment - 1) / alignment * alignment);
  if (p == nullptr) return nullptr;
  const std::size_t size = malloc_usable_size(p);
  const std::size_t now = current_bytes.fetch_add(size) + size;
  std::size_t peak = peak_bytes.load();
  while (now > peak && !peak_bytes.compare_exchange_weak(peak, now)) {
  }
  return p;
}

void* AllocateOrThrow(std::size_t n, std::size_t alignment) {
  void* p = Allocate(n, alignment);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

void Release(void* p) noexcept {
  if (p == nullptr) return;
  current_bytes.fetch_sub(malloc_usable_size(p));
  std::free(p);
}

}  // namespace

std::size_t HeapMeter::Current() { return current_bytes.load(); }
std::size_t HeapMeter::Peak() { return peak_bytes.load(); }
void HeapMeter::ResetPeak() { peak_bytes.store(current_bytes.load()); }

}  // namespace hypergrad::bench

using hypergrad::bench::AllocateOrThrow;

namespace {
constexpr std::size_t kDefault = alignof(std::max_align_t);
}

void* operator new(std::size_t n) { return AllocateOrThrow(n, kDefault); }
void* operator new[](std::size_t n) { return AllocateOrThrow(n, kDefault); }
void* operator new(std::size_t n, std::align_val_t a) {
  return AllocateOrThrow(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return AllocateOrThrow(n, static_cast<std::size_t>(a));
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return hypergrad::bench::Allocate(n, kDefault);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return hypergrad::bench::Allocate(n, kDefault);
}
void operator delete(void* p) noexcept { hypergrad::bench::Release(p); }
void operator delete[](void* p) noexcept { hypergrad::bench::Release(p); }
void operator delete(void* p, std::size_t) noexcept { hypergrad::bench::Release(p); }
void operator delete[](void* p, std::size_t) noexcept { hypergrad::bench::Release(p); }
void operator delete(void* p, std::align_val_t) noexcept { hypergrad::bench::Release(p); }
void operator delete[](void* p, std::align_val_t) noexcept { hypergrad::bench::Release(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  hypergrad::bench::Release(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  hypergrad::bench::Release(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept { hypergrad::bench::Release(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { hypergrad::bench::Release(p); }
