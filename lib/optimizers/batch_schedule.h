// Minibatch schedules: which rows of the model's training data iteration t uses. A training run
// of any optimizer (reversible_training.h) takes one; the reverse pass calls it again, in reverse
// order, for the same t.
#ifndef HYPERGRAD_OPTIMIZERS_BATCH_SCHEDULE_H_
#define HYPERGRAD_OPTIMIZERS_BATCH_SCHEDULE_H_

#include <cstddef>
#include <cstdint>
#include <functional>

#include "models/model.h"

namespace hypergrad {

// The rows used by iteration t. Called again, in reverse order, by the reverse pass: it must
// return the same rows for the same t (derive any randomness from t).
using BatchSchedule = std::function<Batch(std::size_t t)>;

// Batch t = rows [(t mod (rows/batch))·batch, +batch): fixed consecutive batches, cycled.
BatchSchedule SequentialBatches(std::size_t rows, std::size_t batch_size);
// Batch t = `batch_size` rows drawn with replacement from [0, rows), from the stream
// (seed, {stream, t}).
BatchSchedule RandomBatches(std::size_t rows, std::size_t batch_size, std::uint64_t seed,
                            std::uint64_t stream = 0);
// The authors' minibatches (Figs 2–5): batch t = util.RandomState((seed, run, t))
// .randint(rows, size=batch_size), drawn with replacement (numpy_random.h). Throws
// std::invalid_argument for an empty batch or rows outside [1, 2^32].
BatchSchedule AuthorsRandomBatches(std::size_t rows, std::size_t batch_size, std::int64_t seed,
                                   std::int64_t run);

}  // namespace hypergrad

#endif  // HYPERGRAD_OPTIMIZERS_BATCH_SCHEDULE_H_
