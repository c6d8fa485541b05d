#include "models/model.h"

#include <stdexcept>

namespace hypergrad {

double UntrainedModel::Gradient(std::span<const double>, const Batch&, std::span<double>) const {
  throw std::logic_error(who_ + ": the model is never trained");
}

double UntrainedModel::GradientAndHvp(std::span<const double>, const Batch&, std::span<const double>,
                                      std::span<double>, std::span<double>, std::span<double>) const {
  throw std::logic_error(who_ + ": the model is never trained");
}

ParameterBlocks ParameterBlocks::Single(std::size_t num_params) {
  return {std::vector<std::uint32_t>(num_params, 0), {"all"}};
}

ParameterBlocks ParameterBlocks::PerParameter(std::size_t num_params) {
  ParameterBlocks blocks;
  blocks.block_of.resize(num_params);
  for (std::size_t k = 0; k < num_params; ++k) {
    blocks.block_of[k] = static_cast<std::uint32_t>(k);
    blocks.names.push_back("w[" + std::to_string(k) + "]");
  }
  return blocks;
}

void ParameterBlocks::Validate() const {
  std::vector<std::size_t> counts(num_blocks(), 0);
  for (std::size_t k = 0; k < block_of.size(); ++k) {
    if (block_of[k] >= num_blocks()) {
      throw std::invalid_argument("parameter " + std::to_string(k) + " is in block " +
                                  std::to_string(block_of[k]) + " but there are only " +
                                  std::to_string(num_blocks()) + " blocks");
    }
    ++counts[block_of[k]];
  }
  for (std::size_t j = 0; j < counts.size(); ++j) {
    if (counts[j] == 0) throw std::invalid_argument("block '" + names[j] + "' has no parameters");
  }
}

void ParameterBlocks::Expand(std::span<const double> per_block,
                             std::span<double> per_param) const {
  for (std::size_t k = 0; k < block_of.size(); ++k) per_param[k] = per_block[block_of[k]];
}

void ParameterBlocks::AccumulateSum(std::span<const double> per_param,
                                    std::span<double> per_block) const {
  // Each run of one block summed in a register, in index order: the additions (and so the
  // bits) of per_block[block_of[k]] += per_param[k], without a store and reload per element.
  const std::size_t n = block_of.size();
  for (std::size_t k = 0; k < n;) {
    const std::uint32_t b = block_of[k];
    double sum = per_block[b];
    for (; k < n && block_of[k] == b; ++k) sum += per_param[k];
    per_block[b] = sum;
  }
}

}  // namespace hypergrad
