// SHA-256 of a file (OpenSSL), to check data files against their pinned hashes whenever a
// program loads them, not only when the build fetched them.
#ifndef HYPERGRAD_DATA_SHA256_H_
#define HYPERGRAD_DATA_SHA256_H_

#include <string>

namespace hypergrad {

// The lower-case hex SHA-256 of the file at `path`. Throws std::runtime_error naming the path
// if it is not a regular file or cannot be read.
std::string Sha256OfFile(const std::string& path);

}  // namespace hypergrad

#endif  // HYPERGRAD_DATA_SHA256_H_
