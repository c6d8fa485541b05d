#include "data/dataset.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "random/random.h"

namespace hypergrad {

Dataset Dataset::Slice(std::size_t begin, std::size_t end) const {
  if (begin > end || end > rows) {
    throw std::out_of_range("Dataset::Slice: rows [" + std::to_string(begin) + ", " +
                            std::to_string(end) + ") of a data set with " +
                            std::to_string(rows) + " rows");
  }
  Dataset out;
  out.rows = end - begin;
  out.input_dim = input_dim;
  out.classes = classes;
  if (compact()) {
    out.pixels.assign(pixels.begin() + static_cast<std::ptrdiff_t>(begin * input_dim),
                      pixels.begin() + static_cast<std::ptrdiff_t>(end * input_dim));
    out.pixel_offset = pixel_offset;
  } else {
    out.inputs.assign(inputs.begin() + static_cast<std::ptrdiff_t>(begin * input_dim),
                      inputs.begin() + static_cast<std::ptrdiff_t>(end * input_dim));
  }
  out.targets.assign(targets.begin() + static_cast<std::ptrdiff_t>(begin * classes),
                     targets.begin() + static_cast<std::ptrdiff_t>(end * classes));
  return out;
}

std::vector<std::size_t> Dataset::Labels() const {
  std::vector<std::size_t> labels(rows);
  for (std::size_t r = 0; r < rows; ++r) {
    const auto row = targets.begin() + static_cast<std::ptrdiff_t>(r * classes);
    labels[r] = static_cast<std::size_t>(std::max_element(row, row + static_cast<std::ptrdiff_t>(classes)) - row);
  }
  return labels;
}

namespace {

// out[d] = p/255 (− offset[d]) for the pixels p. With kFma, p/255 as a product and one FMA
// correction, q = p·r with r = 1/255 rounded, then q + (p − q·255)·r: the correctly rounded
// quotient at every one of the 256 pixel values (checked against the division in
// dataset_test, all 256; the product q alone is off in 24 of them). 200 rows of 784 in cache,
// best of 5: 27.8 → 25.0 µs with AVX-512, 45.9 → 36.3 µs with AVX2 (the same form without FMA,
// also correctly rounded at all 256, took 29.9 and 42.6 µs; a scalar lookup was no faster).
template <bool kFma>
[[gnu::always_inline]] inline void ConvertPixels(const std::uint8_t* pixel, const double* offset,
                                                 std::size_t n, double* out) {
  constexpr double kInverse = 1.0 / 255.0;
  const auto scaled = [](std::uint8_t p) {
    const auto x = static_cast<double>(p);
    if constexpr (kFma) {
      const double q = x * kInverse;
      return __builtin_fma(__builtin_fma(-q, 255.0, x), kInverse, q);
    } else {
      return x / 255.0;
    }
  };
  if (offset == nullptr) {
    for (std::size_t d = 0; d < n; ++d) out[d] = scaled(pixel[d]);
  } else {
    for (std::size_t d = 0; d < n; ++d) out[d] = scaled(pixel[d]) - offset[d];
  }
}

[[gnu::target("arch=x86-64-v4")]] void PixelsToDoublesV4(const std::uint8_t* pixel,
                                                          const double* offset, std::size_t n,
                                                          double* out) {
  ConvertPixels<true>(pixel, offset, n, out);
}
[[gnu::target("arch=x86-64-v3")]] void PixelsToDoublesV3(const std::uint8_t* pixel,
                                                          const double* offset, std::size_t n,
                                                          double* out) {
  ConvertPixels<true>(pixel, offset, n, out);
}
void PixelsToDoublesBaseline(const std::uint8_t* pixel, const double* offset, std::size_t n,
                             double* out) {
  ConvertPixels<false>(pixel, offset, n, out);
}

}  // namespace

void PixelsToDoubles(const std::uint8_t* pixel, const double* offset, std::size_t n, double* out) {
  using Convert = void (*)(const std::uint8_t*, const double*, std::size_t, double*);
  static const Convert convert = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4")) return &PixelsToDoublesV4;
    if (__builtin_cpu_supports("x86-64-v3")) return &PixelsToDoublesV3;
    return &PixelsToDoublesBaseline;
  }();
  convert(pixel, offset, n, out);
}

void Dataset::CopyInputRow(std::size_t r, double* out) const {
  if (!compact()) {
    std::copy_n(inputs.begin() + static_cast<std::ptrdiff_t>(r * input_dim), input_dim, out);
    return;
  }
  PixelsToDoubles(pixels.data() + r * input_dim,
                  pixel_offset.empty() ? nullptr : pixel_offset.data(), input_dim, out);
}

namespace {

// Columns [begin, end) of `count` input rows, the j-th being row row_of(j), into out (count ×
// (end − begin)): both CopyInputColumns.
template <class RowOf>
void CopyColumnsOfRows(const Dataset& d, std::size_t count, RowOf row_of, std::size_t begin,
                       std::size_t end, double* out) {
  const std::size_t width = end - begin;
  const double* offset = d.pixel_offset.empty() ? nullptr : d.pixel_offset.data() + begin;
  for (std::size_t j = 0; j < count; ++j) {
    const std::size_t r = row_of(j);
    if (d.compact()) {
      PixelsToDoubles(d.pixels.data() + r * d.input_dim + begin, offset, width, out + j * width);
    } else {
      std::copy_n(d.inputs.begin() + static_cast<std::ptrdiff_t>(r * d.input_dim + begin), width,
                  out + j * width);
    }
  }
}

}  // namespace

void Dataset::CopyInputColumns(std::size_t begin, std::size_t end, double* out) const {
  CopyColumnsOfRows(*this, rows, [](std::size_t j) { return j; }, begin, end, out);
}

void Dataset::CopyInputColumns(std::span<const std::size_t> picked, std::size_t begin,
                               std::size_t end, double* out) const {
  CopyColumnsOfRows(*this, picked.size(), [&](std::size_t j) { return picked[j]; }, begin, end, out);
}

void Dataset::Validate() const {
  if (compact()) {
    if (pixels.size() != rows * input_dim || targets.size() != rows * classes ||
        (!pixel_offset.empty() && pixel_offset.size() != input_dim)) {
      throw std::invalid_argument("Dataset (compact): " + std::to_string(rows) + " rows need " +
                                  std::to_string(rows * input_dim) + " pixels, " +
                                  std::to_string(rows * classes) + " targets and 0 or " +
                                  std::to_string(input_dim) + " offsets, got " +
                                  std::to_string(pixels.size()) + ", " +
                                  std::to_string(targets.size()) + " and " +
                                  std::to_string(pixel_offset.size()));
    }
    return;
  }
  if (inputs.size() != rows * input_dim || targets.size() != rows * classes) {
    throw std::invalid_argument("Dataset: " + std::to_string(rows) + " rows need " +
                                std::to_string(rows * input_dim) + " inputs and " +
                                std::to_string(rows * classes) + " targets, got " +
                                std::to_string(inputs.size()) + " and " +
                                std::to_string(targets.size()));
  }
}

namespace {

// Rows, sizes and one-hot targets of a data set with these labels.
Dataset Labelled(std::size_t input_dim, const std::vector<std::size_t>& labels, std::size_t classes) {
  Dataset data;
  data.rows = labels.size();
  data.input_dim = input_dim;
  data.classes = classes;
  data.targets.assign(data.rows * classes, 0.0);
  for (std::size_t r = 0; r < data.rows; ++r) {
    if (labels[r] >= classes) {
      throw std::invalid_argument("label " + std::to_string(labels[r]) + " of row " +
                                  std::to_string(r) + " is not below " + std::to_string(classes));
    }
    data.targets[r * classes + labels[r]] = 1.0;
  }
  return data;
}

}  // namespace

Dataset MakeDataset(std::vector<double> inputs, std::size_t input_dim,
                    const std::vector<std::size_t>& labels, std::size_t classes) {
  Dataset data = Labelled(input_dim, labels, classes);
  data.inputs = std::move(inputs);
  data.Validate();
  return data;
}

Dataset MakeCompactDataset(std::vector<std::uint8_t> pixels, std::vector<double> pixel_offset,
                           std::size_t input_dim, const std::vector<std::size_t>& labels,
                           std::size_t classes) {
  Dataset data = Labelled(input_dim, labels, classes);
  data.pixels = std::move(pixels);
  data.pixel_offset = std::move(pixel_offset);
  data.Validate();
  return data;
}

Dataset MakeSyntheticDataset(std::size_t rows, std::size_t input_dim, std::size_t classes,
                             std::uint64_t seed) {
  RandomStream teacher_rng(seed, {0});
  std::vector<double> teacher(input_dim * classes);
  for (double& v : teacher) v = teacher_rng.Normal();
  RandomStream rng(seed, {1});
  std::vector<double> inputs(rows * input_dim);
  std::vector<std::size_t> labels(rows);
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t d = 0; d < input_dim; ++d) inputs[r * input_dim + d] = rng.Normal();
    std::size_t best = 0;
    double best_score = -1e300;
    for (std::size_t c = 0; c < classes; ++c) {
      double score = 0.5 * rng.Normal();
      for (std::size_t d = 0; d < input_dim; ++d) {
        score += inputs[r * input_dim + d] * teacher[d * classes + c];
      }
      if (score > best_score) best_score = score, best = c;
    }
    labels[r] = best;
  }
  return MakeDataset(std::move(inputs), input_dim, labels, classes);
}

}  // namespace hypergrad
