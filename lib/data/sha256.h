// SHA-256 (OpenSSL), to check data files against their pinned hashes whenever a program loads
// them, not only when the build fetched them.
#ifndef HYPERGRAD_DATA_SHA256_H_
#define HYPERGRAD_DATA_SHA256_H_

#include <cstddef>
#include <memory>
#include <string>

namespace hypergrad {

// The lower-case hex SHA-256 of the file at `path`. Throws std::runtime_error naming the path
// if it is not a regular file or cannot be read.
std::string Sha256OfFile(const std::string& path);

// SHA-256 of bytes given piece by piece (a loader hashes a file as it reads it, instead of
// reading it twice). std::runtime_error if OpenSSL cannot start one.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  // Appends `size` bytes.
  void Update(const void* data, std::size_t size);
  // The lower-case hex digest of everything appended; call once.
  std::string HexDigest();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

}  // namespace hypergrad

#endif  // HYPERGRAD_DATA_SHA256_H_
