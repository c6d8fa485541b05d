#include "buffers/word_stacks.h"

#include <algorithm>
#include <stdexcept>

namespace hypergrad {

WordStacks::WordStacks(std::size_t count) : head_(count, kNoChunk), fill_(count, 0) {}

WordStacks::WordStacks(const WordStacks& other)
    : head_(other.head_),
      fill_(other.fill_),
      free_(other.free_),
      unused_(other.unused_),
      total_words_(other.total_words_) {
  for (const auto& page : other.pages_) {
    pages_.push_back(std::make_unique<Chunk[]>(std::size_t{1} << kPageBits));
    std::copy_n(page.get(), std::size_t{1} << kPageBits, pages_.back().get());
  }
}

WordStacks& WordStacks::operator=(const WordStacks& other) {
  if (this != &other) *this = WordStacks(other);
  return *this;
}

std::uint32_t WordStacks::AllocateChunk() {
  if (free_ != kNoChunk) {
    const std::uint32_t chunk = free_;
    free_ = ChunkAt(chunk).below;
    return chunk;
  }
  if (unused_ == kNoChunk) {
    throw std::length_error("WordStacks: more than 2^32 - 1 chunks (128 GiB) of buffer words");
  }
  if ((unused_ >> kPageBits) == pages_.size()) {
    pages_.push_back(std::make_unique<Chunk[]>(std::size_t{1} << kPageBits));
  }
  return unused_++;
}

bool WordStacks::SameState(const WordStacks& other) const {
  if (head_ != other.head_ || fill_ != other.fill_ || free_ != other.free_ ||
      unused_ != other.unused_ || total_words_ != other.total_words_ ||
      pages_.size() != other.pages_.size()) {
    return false;
  }
  for (std::size_t stack = 0; stack < head_.size(); ++stack) {
    std::size_t used = fill_[stack];
    for (std::uint32_t chunk = head_[stack]; chunk != kNoChunk; chunk = ChunkAt(chunk).below) {
      if (ChunkAt(chunk).below != other.ChunkAt(chunk).below ||
          !std::equal(ChunkAt(chunk).words, ChunkAt(chunk).words + used, other.ChunkAt(chunk).words)) {
        return false;
      }
      used = kChunkWords;
    }
  }
  for (std::uint32_t chunk = free_; chunk != kNoChunk; chunk = ChunkAt(chunk).below) {
    if (ChunkAt(chunk).below != other.ChunkAt(chunk).below) return false;
  }
  return true;
}

std::size_t WordStacks::AllocatedBytes() const {
  return head_.capacity() * sizeof(std::uint32_t) + fill_.capacity() * sizeof(std::uint8_t) +
         pages_.capacity() * sizeof(pages_[0]) + pages_.size() * (sizeof(Chunk) << kPageBits);
}

}  // namespace hypergrad
