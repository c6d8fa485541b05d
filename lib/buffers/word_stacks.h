// Many independent LIFO stacks of 16-bit words sharing one pool of small fixed-size chunks.
// The fast information buffer keeps one stack per parameter; a std::vector per parameter would
// cost more in headers and allocator slack than the few words each one holds (a parameter
// stores about 19 bytes after 1,000 steps at γ = 0.9).
#ifndef HYPERGRAD_BUFFERS_WORD_STACKS_H_
#define HYPERGRAD_BUFFERS_WORD_STACKS_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace hypergrad {

class WordStacks {
 public:
  // `count` empty stacks.
  explicit WordStacks(std::size_t count);
  // Deep copies (checkpointing snapshots of a buffer).
  WordStacks(const WordStacks& other);
  WordStacks& operator=(const WordStacks& other);
  WordStacks(WordStacks&&) = default;
  WordStacks& operator=(WordStacks&&) = default;

  std::size_t count() const { return head_.size(); }
  bool Empty(std::size_t stack) const { return head_[stack] == kNoChunk; }

  // Pushes `word` on stack `stack` (< count()). Throws std::length_error if the pool would
  // exceed 2^32 − 1 chunks (128 GiB).
  void Push(std::size_t stack, std::uint16_t word) {
    if (fill_[stack] == kChunkWords || head_[stack] == kNoChunk) {
      const std::uint32_t chunk = AllocateChunk();
      ChunkAt(chunk).below = head_[stack];
      head_[stack] = chunk;
      fill_[stack] = 0;
    }
    ChunkAt(head_[stack]).words[fill_[stack]++] = word;
    ++total_words_;
  }

  // Pops the top word of stack `stack`. Precondition: !Empty(stack).
  std::uint16_t Pop(std::size_t stack) {
    Chunk& top = ChunkAt(head_[stack]);
    const std::uint16_t word = top.words[--fill_[stack]];
    --total_words_;
    if (fill_[stack] == 0) {
      const std::uint32_t released = head_[stack];
      head_[stack] = top.below;
      fill_[stack] = head_[stack] == kNoChunk ? 0 : kChunkWords;
      top.below = free_;
      free_ = released;
    }
    return word;
  }

  // The effect on the pool of Push(stack, w) immediately followed by Pop(stack), without the
  // word: where that Push would take a fresh chunk (the stack's top chunk full or absent and no
  // free chunk), the Pop gives it back to the free list, so the chunk is counted and free
  // afterwards; otherwise the pair leaves every stack and the pool as they were. Lets a caller
  // that pushes a word and pops it again keep the word in a register (AnsBuffer::PushPop).
  void PushPopInPlace(std::size_t stack) {
    if (!PushPopInPlaceIsNoOp(stack)) {
      const std::uint32_t chunk = AllocateChunk();
      ChunkAt(chunk).below = kNoChunk;
      free_ = chunk;
    }
  }

  // Whether PushPopInPlace(stack) would leave the pool as it is (it changes it only where the
  // stack's top chunk is full or absent and no chunk is free).
  bool PushPopInPlaceIsNoOp(std::size_t stack) const {
    return TopChunkHasRoom(stack) || free_ != kNoChunk;
  }
  // Whether the stack's top chunk exists and is not full: then PushPopInPlace(stack) leaves the
  // pool as it is whatever the pool holds.
  bool TopChunkHasRoom(std::size_t stack) const {
    return fill_[stack] != kChunkWords && head_[stack] != kNoChunk;
  }

  // For vector loops that test PushPopInPlaceIsNoOp and Empty on several stacks at once: the
  // top-chunk fills and heads of all stacks, the head of an empty stack, and whether a chunk is
  // free.
  const std::uint8_t* fills() const { return fill_.data(); }
  const std::uint32_t* heads() const { return head_.data(); }
  static constexpr std::uint32_t kEmptyHead = 0xFFFFFFFFu;
  bool HasFreeChunk() const { return free_ != kNoChunk; }

  // Whether two sets of stacks hold the same words in every stack and the same pool (chunk
  // indices, fill levels, free list, chunks handed out, pages): the state that decides every
  // later operation and AllocatedBytes. For tests.
  bool SameState(const WordStacks& other) const;

  // In-place access to one stack's top chunk, for callers that work on disjoint stacks from
  // several threads without touching the shared pool (Algorithm 3, algorithm3.cc): the top
  // chunk's words (null if the stack is empty) and how many are used (1 … kCapacity). A caller
  // may read words below the fill and write words above it, then SetTopFill to a value in
  // [1, kCapacity]; it reports the change in words with AddToTotal from one thread afterwards.
  static constexpr std::uint8_t kCapacity = 14;
  std::uint16_t* TopWords(std::size_t stack) {
    return head_[stack] == kNoChunk ? nullptr : ChunkAt(head_[stack]).words;
  }
  std::uint8_t TopFill(std::size_t stack) const { return fill_[stack]; }
  void SetTopFill(std::size_t stack, std::uint8_t fill) { fill_[stack] = fill; }
  void AddToTotal(std::ptrdiff_t words) { total_words_ += static_cast<std::size_t>(words); }

  // Words currently held, over all stacks.
  std::size_t total_words() const { return total_words_; }
  // Bytes held: per-stack heads, and every allocated page of chunks (used or free).
  std::size_t AllocatedBytes() const;

 private:
  static constexpr std::uint32_t kNoChunk = kEmptyHead;
  static constexpr std::uint8_t kChunkWords = kCapacity;
  static constexpr std::size_t kPageBits = 10;  // 1,024 chunks (32 KiB) per page
  struct Chunk {
    std::uint16_t words[kChunkWords];
    std::uint32_t below;  // next chunk down this stack, or (when free) the next free chunk
  };
  static_assert(sizeof(Chunk) == 32);

  Chunk& ChunkAt(std::uint32_t index) {
    return pages_[index >> kPageBits][index & ((1u << kPageBits) - 1)];
  }
  const Chunk& ChunkAt(std::uint32_t index) const {
    return pages_[index >> kPageBits][index & ((1u << kPageBits) - 1)];
  }
  std::uint32_t AllocateChunk();

  std::vector<std::uint32_t> head_;  // top chunk of each stack
  std::vector<std::uint8_t> fill_;   // words used in the top chunk
  std::vector<std::unique_ptr<Chunk[]>> pages_;
  std::uint32_t free_ = kNoChunk;    // head of the free list
  std::uint32_t unused_ = 0;         // chunks ever handed out (free ones included)
  std::size_t total_words_ = 0;
};

}  // namespace hypergrad

#endif  // HYPERGRAD_BUFFERS_WORD_STACKS_H_
