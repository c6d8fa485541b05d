// A labelled data set held in memory: inputs as rows of doubles (or, for 8-bit images, one
// byte per pixel converted when read), targets one-hot.
#ifndef HYPERGRAD_DATA_DATASET_H_
#define HYPERGRAD_DATA_DATASET_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace hypergrad {

struct Dataset {
  std::size_t rows = 0;
  std::size_t input_dim = 0;
  std::size_t classes = 0;
  std::vector<double> inputs;   // rows × input_dim, row-major (empty in the compact form)
  std::vector<double> targets;  // rows × classes, row-major, one-hot
  // The compact form of 8-bit images (inputs empty): input (r, d) is
  //   pixels[r·input_dim + d] / 255.0 − pixel_offset[d]   (no subtraction if pixel_offset is empty),
  // formed in double when read: the same bits as converting every image up front, in an eighth
  // of the memory. Read through CopyInputRow / CopyInputColumns.
  std::vector<std::uint8_t> pixels;
  std::vector<double> pixel_offset;

  bool compact() const { return inputs.empty() && !pixels.empty(); }
  // Input row r (input_dim doubles) into `out`, from either form. Precondition: r < rows.
  void CopyInputRow(std::size_t r, double* out) const;
  // Inputs of every row in columns [begin, end) into `out` (rows × (end − begin), row-major).
  // Precondition: begin ≤ end ≤ input_dim.
  void CopyInputColumns(std::size_t begin, std::size_t end, double* out) const;
  // The same for the rows `rows` in that order (rows.size() × (end − begin)). Precondition: every
  // row < rows, begin ≤ end ≤ input_dim.
  void CopyInputColumns(std::span<const std::size_t> rows, std::size_t begin, std::size_t end,
                        double* out) const;

  // Rows [begin, end) as a new data set. Throws std::out_of_range if end > rows or begin > end.
  Dataset Slice(std::size_t begin, std::size_t end) const;
  // The class of each row (argmax of its target row).
  std::vector<std::size_t> Labels() const;
  // Throws std::invalid_argument unless the vectors' sizes match rows, input_dim and classes
  // (inputs, or in the compact form pixels and pixel_offset).
  void Validate() const;
};

// A data set from inputs and integer labels in [0, classes): targets become one-hot.
// Throws std::invalid_argument on mismatched sizes or a label out of range.
Dataset MakeDataset(std::vector<double> inputs, std::size_t input_dim,
                    const std::vector<std::size_t>& labels, std::size_t classes);

// The compact form (Dataset::pixels, pixel_offset) with one-hot targets; same errors.
Dataset MakeCompactDataset(std::vector<std::uint8_t> pixels, std::vector<double> pixel_offset,
                           std::size_t input_dim, const std::vector<std::size_t>& labels,
                           std::size_t classes);

// out[d] = pixel[d]/255 − offset[d] for d < n (no subtraction where offset is null): the value of
// a stored pixel, as Dataset reads its compact form and the MNIST loader converts; pixel/255 is
// the correctly rounded quotient, the same bits in vector registers of any width.
void PixelsToDoubles(const std::uint8_t* pixel, const double* offset, std::size_t n, double* out);

// A generated classification problem (no download): inputs N(0, 1), labels the argmax of a
// random linear teacher plus noise, so a network can learn it. Deterministic in `seed`.
Dataset MakeSyntheticDataset(std::size_t rows, std::size_t input_dim, std::size_t classes,
                             std::uint64_t seed);

}  // namespace hypergrad

#endif  // HYPERGRAD_DATA_DATASET_H_
