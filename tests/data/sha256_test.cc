// sha256.h: the FIPS 180-2 test vectors ("", "abc", the 448-bit message, one million 'a'),
// whole and in pieces; Sha256OfFile on files (one crossing its 1 MiB read buffer), and its
// errors naming the path.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <unistd.h>

#include "data/sha256.h"

namespace hypergrad {
namespace {

// FIPS 180-2, appendix B (and the empty message's well-known digest).
constexpr const char* kEmpty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr const char* kAbc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr const char* k448Message = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
constexpr const char* k448 = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
constexpr const char* kMillionA = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

std::string Hash(const std::string& bytes) {
  Sha256 h;
  h.Update(bytes.data(), bytes.size());
  return h.HexDigest();
}

TEST(Sha256, Fips180_2Vectors) {
  EXPECT_EQ(Hash(""), kEmpty);
  EXPECT_EQ(Hash("abc"), kAbc);
  EXPECT_EQ(Hash(k448Message), k448);
  EXPECT_EQ(Hash(std::string(1000000, 'a')), kMillionA);
}

TEST(Sha256, PiecesGiveTheDigestOfTheirConcatenation) {
  {
    Sha256 h;
    h.Update("a", 1);
    h.Update("", 0);
    h.Update("bc", 2);
    EXPECT_EQ(h.HexDigest(), kAbc);
  }
  // One million 'a' in pieces of 1 to 997 bytes, none on a 64-byte block boundary pattern.
  const std::string a(997, 'a');
  Sha256 h;
  std::size_t left = 1000000, size = 1;
  while (left > 0) {
    const std::size_t n = std::min(left, size);
    h.Update(a.data(), n);
    left -= n;
    size = size % 997 + 1;
  }
  EXPECT_EQ(h.HexDigest(), kMillionA);
}

class Sha256File : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sha256_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& bytes) {
    const auto path = dir_ / name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path.string();
  }
  std::filesystem::path dir_;
};

TEST_F(Sha256File, HashesFileContents) {
  EXPECT_EQ(Sha256OfFile(Write("empty", "")), kEmpty);
  EXPECT_EQ(Sha256OfFile(Write("abc", "abc")), kAbc);
  EXPECT_EQ(Sha256OfFile(Write("million", std::string(1000000, 'a'))), kMillionA);
}

TEST_F(Sha256File, FileLongerThanTheReadBufferHashesWhole) {
  // 3 MiB + 5 bytes of varied content: several 1 MiB reads and a short last one.
  std::string bytes((std::size_t{3} << 20) + 5, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 131) ^ (i >> 11));
  const std::string digest = Sha256OfFile(Write("long", bytes));
  EXPECT_EQ(digest, Hash(bytes));
  bytes.back() ^= 1;  // the last byte counts
  EXPECT_NE(digest, Hash(bytes));
}

void ExpectErrorNaming(const std::string& path, const std::string& why) {
  try {
    Sha256OfFile(path);
    FAIL() << path << ": no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), path + ": " + why);
  }
}

TEST_F(Sha256File, MissingFileOrDirectoryThrowsNamingThePath) {
  ExpectErrorNaming((dir_ / "absent").string(), "no such file");
  ExpectErrorNaming(dir_.string(), "is not a regular file");
}

TEST_F(Sha256File, UnreadableFileThrowsNamingThePath) {
  const std::string path = Write("locked", "abc");
  std::filesystem::permissions(path, std::filesystem::perms::none);
  if (std::ifstream(path).good()) GTEST_SKIP() << "running with permission to read anything (root)";
  try {
    Sha256OfFile(path);
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(path + ": cannot open: ", 0), 0u) << e.what();
  }
}

}  // namespace
}  // namespace hypergrad
