// The large-buffer allocator: values survive growth, large blocks start on a 2 MiB boundary and
// (where the kernel offers transparent huge pages on advice) are backed by huge pages.
#include "runtime/large_buffer.h"

#include <gtest/gtest.h>

#include <malloc.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace hypergrad {
namespace {

using Doubles = std::vector<double, LargeBufferAllocator<double>>;

TEST(LargeBufferAllocatorTest, KeepsValuesAcrossGrowthFromSmallToLarge) {
  Doubles v;
  for (std::size_t i = 0; i < 1'000'000; ++i) v.push_back(static_cast<double>(i) * 0.5);
  ASSERT_EQ(v.size(), 1'000'000u);  // 8 MB: grew through both kinds of block
  for (std::size_t i = 0; i < v.size(); i += 997) ASSERT_EQ(v[i], static_cast<double>(i) * 0.5) << i;
  v.resize(10);
  v.shrink_to_fit();
  EXPECT_EQ(v[9], 4.5);
}

TEST(LargeBufferAllocatorTest, ValuesGivenToResizeAreWritten) {
  Doubles v(3 * kHugePageBytes / sizeof(double), 2.0);  // construct(p, value): written
  for (std::size_t i = 0; i < v.size(); i += 4099) ASSERT_EQ(v[i], 2.0) << i;
  v.assign(100, -1.0);
  EXPECT_EQ(v[99], -1.0);
}

TEST(LargeBufferAllocatorTest, LargeBlocksStartOnHugePageBoundaries) {
  LargeBufferAllocator<double> allocator;
  for (const std::size_t bytes : {kHugePageBytes, kHugePageBytes + 8, 5 * kHugePageBytes - 8}) {
    double* p = allocator.allocate(bytes / sizeof(double));
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % kHugePageBytes, 0u) << bytes;
    p[bytes / sizeof(double) - 1] = 1.0;  // the whole block is usable
    allocator.deallocate(p, bytes / sizeof(double));
  }
  double* small = allocator.allocate(100);
  small[99] = 1.0;
  allocator.deallocate(small, 100);
}

TEST(LargeBufferAllocatorTest, AdviceOnRangesWithoutAWholeHugePageChangesNothing) {
  std::vector<char> bytes(kHugePageBytes / 2, 'x');
  AdviseHugePages(bytes.data(), bytes.size());
  AdviseHugePages(bytes.data() + 1, 0);
  AdviseHugePages(nullptr, 0);
  EXPECT_EQ(bytes.front(), 'x');
  EXPECT_EQ(bytes.back(), 'x');
}

// The rest of the line that starts with `field` in the entry of /proc/self/smaps for the mapping
// holding `p`; "" if there is none.
std::string SmapsField(const void* p, const std::string& field) {
  std::ifstream smaps("/proc/self/smaps");
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    std::uintptr_t begin = 0, end = 0;
    char dash = 0;
    std::istringstream head(line);
    if (head >> std::hex >> begin >> dash >> end && dash == '-') {
      inside = begin <= address && address < end;
    } else if (inside && line.rfind(field, 0) == 0) {
      return line.substr(field.size());
    }
  }
  return "";
}

// AnonHugePages of the mapping holding `p`, in kB; -1 if not found.
long AnonHugePagesKb(const void* p) {
  const std::string kb = SmapsField(p, "AnonHugePages:");
  return kb.empty() ? -1 : std::stol(kb);
}

// The VmFlags of the mapping holding `p` ("hg": advised for huge pages, whatever the kernel then
// does), with a space after the last, or " " if not found.
std::string VmFlags(const void* p) { return SmapsField(p, "VmFlags:") + " "; }

// Why huge pages cannot be checked here ("" where they can): the kernel gives none on advice, or
// an advised fault need not wait for one.
std::string NoHugePagesOnAdvice() {
  auto setting = [](const char* name) {
    std::ifstream file(std::string("/sys/kernel/mm/transparent_hugepage/") + name);
    std::string line;
    std::getline(file, line);
    return line;
  };
  const std::string enabled = setting("enabled"), defrag = setting("defrag");
  if (enabled.find("[madvise]") == std::string::npos && enabled.find("[always]") == std::string::npos) {
    return "no transparent huge pages on advice here (enabled: " + enabled + ")";
  }
  // With these defrag settings an advised fault compacts memory for a huge page when none is
  // free (Documentation/admin-guide/mm/transhuge.rst), so none here means no advice was given.
  if (defrag.find("[always]") == std::string::npos && defrag.find("[madvise]") == std::string::npos &&
      defrag.find("[defer+madvise]") == std::string::npos) {
    return "advised faults do not wait for a huge page here (defrag: " + defrag + ")";
  }
  return "";
}

// Whether p lies in a mapping /proc/self/maps names [heap] (the program break's region).
bool OnTheHeap(const void* p) {
  std::ifstream maps("/proc/self/maps");
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  std::string line;
  while (std::getline(maps, line)) {
    std::uintptr_t begin = 0, end = 0;
    char dash = 0;
    std::istringstream head(line);
    if (head >> std::hex >> begin >> dash >> end && line.size() >= 6 &&
        line.compare(line.size() - 6, 6, "[heap]") == 0 && begin <= address && address < end) {
      return true;
    }
  }
  return false;
}

TEST(LargeBufferAllocatorTest, LargeBlocksAreBackedByHugePagesWhereTheKernelAdvisesThem) {
  if (const std::string why = NoHugePagesOnAdvice(); !why.empty()) GTEST_SKIP() << why;
  Doubles v(4 * kHugePageBytes / sizeof(double));
  for (std::size_t i = 0; i < v.size(); i += 512) v[i] = 1.0;  // fault every 4 KiB page in
  EXPECT_GE(AnonHugePagesKb(v.data()), 2048);
}

// UseHugePagesForTheHeap, called first thing in a fresh process (this test binary started again
// with only this test, as a tool calls it first thing in main): the heap grows by 32 MiB advised
// for huge pages; a 20 MiB block from plain malloc (which glibc would map on its own, unadvised)
// lies there, advised, and on huge pages once written where the kernel gives them on advice; once
// that space is taken, a 1.5 MiB block (below the 2 MiB threshold) grows the heap instead of
// getting a mapping of its own, and a 40 MiB block gets one.
TEST(UseHugePagesForTheHeapTest, PlainMallocBlocksComeFromTheHeapOnHugePages) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "a sanitizer's allocator replaces glibc's";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
  GTEST_SKIP() << "a sanitizer's allocator replaces glibc's";
#endif
#endif
#if !defined(__GLIBC__)
  GTEST_SKIP() << "not glibc";
#endif
  if (std::getenv("HYPERGRAD_TEST_FRESH_HEAP") == nullptr) {
    const std::string command = "HYPERGRAD_TEST_FRESH_HEAP=1 '" +
                                std::filesystem::read_symlink("/proc/self/exe").string() +
                                "' --gtest_filter='UseHugePagesForTheHeapTest.*'";
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
    return;
  }
  ASSERT_TRUE(UseHugePagesForTheHeap());
  auto* const big = static_cast<char*>(std::malloc(std::size_t{20} << 20));
  ASSERT_NE(big, nullptr);
  for (std::size_t i = 0; i < (std::size_t{20} << 20); i += 4096) big[i] = 1;  // fault it in
  char* const middle = big + (std::size_t{10} << 20);
  EXPECT_TRUE(OnTheHeap(big)) << "a 20 MiB malloc block was mapped apart from the heap";
  EXPECT_NE(VmFlags(middle).find(" hg "), std::string::npos)
      << "the heap holding the block is not advised for huge pages: VmFlags" << VmFlags(middle);
  if (const std::string why = NoHugePagesOnAdvice(); why.empty()) {
    EXPECT_GE(AnonHugePagesKb(middle), 2048) << "the heap holding the block has no huge pages";
  } else {
    std::printf("huge pages not checked: %s\n", why.c_str());
  }
  // Take what is left of the grown heap, then a block below the threshold that cannot fit.
  void* const rest = std::malloc(mallinfo2().keepcost);
  auto* const small = static_cast<char*>(std::malloc(3 * kHugePageBytes / 4));
  auto* const large = static_cast<char*>(std::malloc(std::size_t{40} << 20));
  ASSERT_NE(small, nullptr);
  ASSERT_NE(large, nullptr);
  EXPECT_TRUE(OnTheHeap(small)) << "a 1.5 MiB block the heap could not hold was mapped apart";
  EXPECT_FALSE(OnTheHeap(large)) << "a 40 MiB block came from the heap";
  std::free(large);
  std::free(small);
  std::free(rest);
  std::free(big);
}

}  // namespace
}  // namespace hypergrad
