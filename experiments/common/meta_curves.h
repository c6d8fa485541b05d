// The /meta group of a figure target's result file: what it recorded of its meta-optimization,
// one value per meta-iteration (or per record of the hyperparameters, the initial one included).
#ifndef HYPERGRAD_EXPERIMENTS_COMMON_META_CURVES_H_
#define HYPERGRAD_EXPERIMENTS_COMMON_META_CURVES_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "results/h5_writer.h"

namespace hypergrad::experiments {

// A target's own record: the float64 dataset /meta/<name>.
struct MetaRecord {
  std::string name;                // under /meta, e.g. "meta_loss"; not empty
  std::span<const double> values;
  std::vector<std::size_t> shape;  // empty: 1-D; else must multiply to values.size()
  std::string meaning;             // its "meaning" attribute; empty: none
};

// The curves meta-optimizations share, by their dataset names, and the target's own records.
// A target sets the curves it measured; unset ones are not written (an empty curve that is set
// is written, empty).
struct MetaCurves {
  std::optional<std::span<const double>> train_loss, valid_loss, test_loss, test_error,
      hypergradient_norm;
  std::optional<std::span<const std::int64_t>> reversal_exact;  // 1 where the reversal was exact
  std::string train_loss_meaning;  // /meta/train_loss's "meaning" attribute; empty: none
  std::vector<MetaRecord> more;
};

// The losses of a target's runs, one value per run in order, from runs that report train_loss,
// valid_loss, test_loss and test_error (Fig2Run, Fig2AdamRun).
struct RunLosses {
  std::vector<double> train_loss, valid_loss, test_loss, test_error;
  template <class Run>
  void Append(const Run& run) {
    train_loss.push_back(run.train_loss);
    valid_loss.push_back(run.valid_loss);
    test_loss.push_back(run.test_loss);
    test_error.push_back(run.test_error);
  }
  // MetaCurves with these four set (viewing this object's vectors) and nothing else.
  MetaCurves Curves() const;
};

// Writes /meta/train_loss, valid_loss, test_loss, test_error, hypergradient_norm (float64,
// 1-D) and reversal_exact (int64, 1-D) for those set, in that order, train_loss's meaning, then
// `more` in its order, each with its meaning. std::invalid_argument, before writing anything,
// for a train_loss_meaning without train_loss or a record without a name; the writer's errors
// (a name twice, a shape that does not fit) as they come.
void WriteMetaCurves(H5Writer& w, const MetaCurves& curves);

}  // namespace hypergrad::experiments

#endif  // HYPERGRAD_EXPERIMENTS_COMMON_META_CURVES_H_
