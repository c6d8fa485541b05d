// A labelled data set held in memory: inputs as rows of doubles, targets one-hot.
#ifndef HYPERGRAD_DATASET_H_
#define HYPERGRAD_DATASET_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace hypergrad {

struct Dataset {
  std::size_t rows = 0;
  std::size_t input_dim = 0;
  std::size_t classes = 0;
  std::vector<double> inputs;   // rows × input_dim, row-major
  std::vector<double> targets;  // rows × classes, row-major, one-hot

  // Rows [begin, end) as a new data set. Throws std::out_of_range if end > rows or begin > end.
  Dataset Slice(std::size_t begin, std::size_t end) const;
  // The class of each row (argmax of its target row).
  std::vector<std::size_t> Labels() const;
  // Throws std::invalid_argument unless the vectors' sizes match rows, input_dim and classes.
  void Validate() const;
};

// A data set from inputs and integer labels in [0, classes): targets become one-hot.
// Throws std::invalid_argument on mismatched sizes or a label out of range.
Dataset MakeDataset(std::vector<double> inputs, std::size_t input_dim,
                    const std::vector<std::size_t>& labels, std::size_t classes);

// A generated classification problem (no download): inputs N(0, 1), labels the argmax of a
// random linear teacher plus noise, so a network can learn it. Deterministic in `seed`.
Dataset MakeSyntheticDataset(std::size_t rows, std::size_t input_dim, std::size_t classes,
                             std::uint64_t seed);

}  // namespace hypergrad

#endif  // HYPERGRAD_DATASET_H_
