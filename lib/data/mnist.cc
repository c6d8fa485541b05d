#include "data/mnist.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <algorithm>
#include <iterator>
#include <memory>
#include <stdexcept>

#include "data/sha256.h"
#include "runtime/large_buffer.h"
#include "runtime/parallel.h"

namespace hypergrad {
namespace {

std::uint32_t BigEndian32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

// The first `keep` rows of a file of `count` images, given as pixel/255 (`inputs`, keep × pixels),
// with their labels. Every label in the file is checked, whether kept or not, so a partial load
// reports what a whole one would.
// The labels of the first `keep` of `count` images, checked.
std::vector<std::size_t> CheckedLabels(std::size_t count, const IdxFile& labels, std::size_t keep,
                                       const std::string& name) {
  if (labels.dims[0] != count) {
    throw std::runtime_error("MNIST " + name + ": " + std::to_string(count) + " images but " +
                             std::to_string(labels.dims[0]) + " labels");
  }
  for (std::size_t i = 0; i < count; ++i) {
    if (labels.data[i] > 9) {
      throw std::runtime_error("MNIST " + name + ": label " + std::to_string(labels.data[i]) +
                               " of image " + std::to_string(i) + " is not a digit");
    }
  }
  return {labels.data.begin(), labels.data.begin() + static_cast<std::ptrdiff_t>(keep)};
}

Dataset ToDataset(std::size_t count, std::size_t pixels, const IdxFile& labels, std::size_t keep,
                  std::vector<double> inputs, const std::string& name) {
  return MakeDataset(std::move(inputs), pixels, CheckedLabels(count, labels, keep, name), 10);
}

// Every image of `images` as pixel/255, then the data set.
Dataset ToDataset(const IdxFile& images, const IdxFile& labels, const std::string& name) {
  std::vector<double> inputs(images.data.size());
  PixelsToDoubles(images.data.data(), nullptr, inputs.size(), inputs.data());
  const std::size_t count = images.dims[0];
  return ToDataset(count, images.dims[1] * images.dims[2], labels, count, std::move(inputs), name);
}

// An opened idx file whose header has been read and checked against the file's size: dims and
// the stream positioned at the first data byte.
struct OpenIdx {
  std::ifstream in;
  std::vector<std::size_t> dims;
  std::size_t data_bytes = 0;
  std::size_t unread = 0;          // data bytes not read yet
  std::unique_ptr<Sha256> hash;    // of every byte read, if the caller wants the file's hash
};

// Reads `count` bytes (the file was checked to hold them), adding them to the hash unless the
// caller hashes them itself (`hash` false).
void ReadBytes(OpenIdx& file, std::uint8_t* out, std::size_t count, const std::string& path,
               bool hash = true) {
  file.in.read(reinterpret_cast<char*>(out), static_cast<std::streamsize>(count));
  if (!file.in) throw std::runtime_error(path + ": read error");
  if (hash && file.hash) file.hash->Update(out, count);
}

// The file's SHA-256, reading (and hashing) the data bytes not read yet.
std::string FinishHash(OpenIdx& file, const std::string& path) {
  std::vector<std::uint8_t> rest(std::min<std::size_t>(file.unread, std::size_t{1} << 20));
  while (file.unread > 0) {
    const std::size_t n = std::min(file.unread, rest.size());
    ReadBytes(file, rest.data(), n, path);
    file.unread -= n;
  }
  return file.hash->HexDigest();
}

// mean[d] += pixel[r·pixels + d] / 255 for rows r = 0 … rows − 1 in turn: MeanInput's additions, in
// its order. The rows of one column are added one after another; the columns are independent,
// so the loop runs across them in vector registers (a division rounds the same in any of them).
[[gnu::target_clones("avx512f", "avx2", "default")]] void AddRowsToMean(
    const std::uint8_t* pixel, std::size_t rows, std::size_t pixels, double* mean) {
  for (std::size_t r = 0; r < rows; ++r) {
    const std::uint8_t* row = pixel + r * pixels;
    for (std::size_t d = 0; d < pixels; ++d) mean[d] += static_cast<double>(row[d]) / 255.0;
  }
}

// With `hash`, every byte read from the file (header included) is hashed.
OpenIdx OpenIdxFile(const std::string& path, std::uint32_t expected_magic, bool hash = false) {
  std::error_code error;
  if (std::filesystem::exists(path, error) && !std::filesystem::is_regular_file(path, error)) {
    throw std::runtime_error(path + ": is not a regular file (an idx file was expected)");
  }
  OpenIdx file;
  if (hash) file.hash = std::make_unique<Sha256>();
  file.in.open(path, std::ios::binary);
  if (!file.in) throw std::runtime_error(path + ": cannot open");
  const std::size_t size = std::filesystem::file_size(path, error);
  if (error) throw std::runtime_error(path + ": cannot read its size");
  const std::size_t rank = expected_magic & 0xFF;
  const std::size_t header = 4 + 4 * rank;
  std::vector<std::uint8_t> head(std::min(size, header));
  ReadBytes(file, head.data(), head.size(), path);
  if (head.size() >= 4 && BigEndian32(head.data()) != expected_magic) {
    char buffer[80];
    std::snprintf(buffer, sizeof buffer, "wrong magic number 0x%08X (expected 0x%08X)",
                  BigEndian32(head.data()), expected_magic);
    throw std::runtime_error(path + ": " + buffer);
  }
  if (size < header) {
    throw std::runtime_error(path + ": truncated idx header (" + std::to_string(size) + " bytes)");
  }
  std::size_t expected = 1;
  for (std::size_t d = 0; d < rank; ++d) {
    file.dims.push_back(BigEndian32(head.data() + 4 + 4 * d));
    expected *= file.dims.back();
  }
  if (size != header + expected) {
    throw std::runtime_error(path + ": header promises " + std::to_string(expected) +
                             " data bytes, the file has " + std::to_string(size - header) +
                             (size < header + expected ? " (truncated)" : " (trailing bytes)"));
  }
  file.data_bytes = file.unread = expected;
  return file;
}

}  // namespace

IdxFile ReadIdxFile(const std::string& path, std::uint32_t expected_magic, std::string* sha256) {
  OpenIdx open = OpenIdxFile(path, expected_magic, sha256 != nullptr);
  IdxFile file{open.dims, std::vector<std::uint8_t>(open.data_bytes)};
  ReadBytes(open, file.data.data(), open.data_bytes, path);
  open.unread = 0;
  if (sha256) *sha256 = FinishHash(open, path);
  return file;
}

Dataset LoadMnistTrainingRows(const std::string& dir, std::size_t count, std::vector<double>* mean,
                              bool compact, std::vector<std::string>* sha256, unsigned threads) {
  const std::string images_path = dir + "/" + kMnistFiles[0], labels_path = dir + "/" + kMnistFiles[1];
  OpenIdx images = OpenIdxFile(images_path, 0x803, sha256 != nullptr);
  std::string labels_hash;
  const IdxFile labels = ReadIdxFile(labels_path, 0x801, sha256 ? &labels_hash : nullptr);
  const std::size_t rows = images.dims[0], pixels = images.dims[1] * images.dims[2];
  if (count > rows) {
    throw std::invalid_argument(images_path + ": holds " + std::to_string(rows) +
                                " images, fewer than the " + std::to_string(count) +
                                " training rows asked for");
  }
  // Rows in chunks: the first `count` kept as pixel/255, every row added to the mean in row
  // order (the additions MeanInput makes, so the mean has its bits).
  std::vector<double> inputs(compact ? 0 : count * pixels);
  // The kept bytes are appended chunk by chunk (no zero fill first), on huge pages
  // (large_buffer.h: megabytes written once).
  std::vector<std::uint8_t> kept;
  if (compact) {
    kept.reserve(count * pixels);
    AdviseHugePages(kept.data(), count * pixels);
  }
  if (mean) mean->assign(pixels, 0.0);
  // Every chunk is hashed, kept and added to the mean while the next one is read, three pieces of
  // work on up to `threads` threads (in that order on one): the hash sees the bytes in file
  // order, and each chunk's rows are kept and added by one piece in row order, so neither the
  // hash nor the mean depends on the thread count. With a hash or a mean the whole file is read.
  const std::size_t chunk_rows = 1000;
  const std::size_t needed_rows = mean || images.hash ? rows : count;
  std::vector<std::uint8_t> chunks[2] = {std::vector<std::uint8_t>(chunk_rows * pixels),
                                         std::vector<std::uint8_t>(chunk_rows * pixels)};
  auto read = [&](std::size_t first, std::vector<std::uint8_t>& chunk) {
    const std::size_t n = std::min(chunk_rows, needed_rows - first);
    ReadBytes(images, chunk.data(), n * pixels, images_path, /*hash=*/false);
    images.unread -= n * pixels;
  };
  if (needed_rows > 0) read(0, chunks[0]);
  for (std::size_t first = 0, c = 0; first < needed_rows; first += chunk_rows, ++c) {
    const std::vector<std::uint8_t>& chunk = chunks[c % 2];
    const std::size_t n = std::min(chunk_rows, needed_rows - first);
    const std::size_t keep = first < count ? std::min(n, count - first) : 0;
    ParallelFor(3, threads, [&](std::size_t piece) {
      if (piece == 0) {
        if (images.hash) images.hash->Update(chunk.data(), n * pixels);
      } else if (piece == 1) {
        if (compact) {
          kept.insert(kept.end(), chunk.data(), chunk.data() + keep * pixels);
        } else {
          PixelsToDoubles(chunk.data(), nullptr, keep * pixels, inputs.data() + first * pixels);
        }
        if (mean) AddRowsToMean(chunk.data(), n, pixels, mean->data());
      } else if (first + chunk_rows < needed_rows) {
        read(first + chunk_rows, chunks[(c + 1) % 2]);
      }
    });
  }
  if (mean) {
    for (double& m : *mean) m /= static_cast<double>(rows);
  }
  if (sha256) *sha256 = {FinishHash(images, images_path), labels_hash};
  if (compact) {
    return MakeCompactDataset(std::move(kept), {}, pixels,
                              CheckedLabels(rows, labels, count, "training set (" + labels_path + ")"), 10);
  }
  return ToDataset(rows, pixels, labels, count, std::move(inputs), "training set (" + labels_path + ")");
}

MnistData LoadMnist(const std::string& dir, std::vector<std::string>* sha256) {
  auto path = [&](int i) { return dir + "/" + kMnistFiles[i]; };
  std::string hashes[4];
  auto hash = [&](int i) { return sha256 ? &hashes[i] : nullptr; };
  MnistData mnist;
  mnist.train = ToDataset(ReadIdxFile(path(0), 0x803, hash(0)), ReadIdxFile(path(1), 0x801, hash(1)),
                          "training set (" + path(1) + ")");
  mnist.test = ToDataset(ReadIdxFile(path(2), 0x803, hash(2)), ReadIdxFile(path(3), 0x801, hash(3)),
                         "test set (" + path(3) + ")");
  if (sha256) sha256->assign(std::begin(hashes), std::end(hashes));
  return mnist;
}

std::vector<Dataset> ConsecutiveSplits(const MnistData& mnist, const std::vector<std::size_t>& sizes) {
  const std::size_t train_rows = mnist.train.rows;
  std::size_t total = 0;
  for (std::size_t s : sizes) total += s;
  if (total > train_rows + mnist.test.rows) {
    throw std::invalid_argument("ConsecutiveSplits: " + std::to_string(total) + " rows requested, " +
                                std::to_string(train_rows + mnist.test.rows) + " available");
  }
  std::vector<Dataset> splits;
  std::size_t begin = 0;
  for (std::size_t size : sizes) {
    const std::size_t end = begin + size;
    if (end <= train_rows) {
      splits.push_back(mnist.train.Slice(begin, end));
    } else if (begin >= train_rows) {
      splits.push_back(mnist.test.Slice(begin - train_rows, end - train_rows));
    } else {  // straddles the two files
      Dataset a = mnist.train.Slice(begin, train_rows), b = mnist.test.Slice(0, end - train_rows);
      a.inputs.insert(a.inputs.end(), b.inputs.begin(), b.inputs.end());
      a.targets.insert(a.targets.end(), b.targets.begin(), b.targets.end());
      a.rows += b.rows;
      splits.push_back(std::move(a));
    }
    begin = end;
  }
  return splits;
}

std::vector<double> MeanInput(const Dataset& data) {
  std::vector<double> mean(data.input_dim, 0.0);
  for (std::size_t r = 0; r < data.rows; ++r) {
    for (std::size_t d = 0; d < data.input_dim; ++d) mean[d] += data.inputs[r * data.input_dim + d];
  }
  for (double& m : mean) m /= static_cast<double>(data.rows);
  return mean;
}

void SubtractMean(Dataset& data, std::span<const double> mean) {
  if (mean.size() != data.input_dim) {
    throw std::invalid_argument("SubtractMean: mean has " + std::to_string(mean.size()) +
                                " values for " + std::to_string(data.input_dim) + " inputs");
  }
  for (std::size_t r = 0; r < data.rows; ++r) {
    for (std::size_t d = 0; d < data.input_dim; ++d) data.inputs[r * data.input_dim + d] -= mean[d];
  }
}

}  // namespace hypergrad
