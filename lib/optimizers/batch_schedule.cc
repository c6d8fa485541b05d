#include "optimizers/batch_schedule.h"

#include <stdexcept>
#include <string>

#include "random/numpy_random.h"
#include "random/random.h"

namespace hypergrad {

BatchSchedule SequentialBatches(std::size_t rows, std::size_t batch_size) {
  if (batch_size == 0 || batch_size > rows) {
    throw std::invalid_argument("batch size " + std::to_string(batch_size) + " for " +
                                std::to_string(rows) + " rows");
  }
  const std::size_t count = rows / batch_size;
  return [count, batch_size](std::size_t t) {
    Batch b;
    b.rows.resize(batch_size);
    const std::size_t start = (t % count) * batch_size;
    for (std::size_t j = 0; j < batch_size; ++j) b.rows[j] = start + j;
    return b;
  };
}

BatchSchedule RandomBatches(std::size_t rows, std::size_t batch_size, std::uint64_t seed,
                            std::uint64_t stream) {
  if (batch_size == 0 || rows == 0) {
    throw std::invalid_argument("random batches need rows and a positive batch size");
  }
  return [=](std::size_t t) {
    RandomStream rng(seed, {stream, t});
    Batch b;
    b.rows.resize(batch_size);
    for (std::size_t& r : b.rows) r = rng.UniformInt(rows);
    return b;
  };
}

BatchSchedule AuthorsRandomBatches(std::size_t rows, std::size_t batch_size, std::int64_t seed,
                                   std::int64_t run) {
  if (batch_size == 0 || rows == 0 || rows > (std::size_t{1} << 32)) {
    throw std::invalid_argument("the authors' random batches need 1 to 2^32 rows and a positive "
                                "batch size, got " + std::to_string(rows) + " rows, batch " +
                                std::to_string(batch_size));
  }
  return [=](std::size_t t) {
    NumpyRandomState rng = AuthorsRandomState({seed, run, static_cast<std::int64_t>(t)});
    Batch b;
    b.rows.resize(batch_size);
    for (std::size_t& r : b.rows) r = rng.RandInt(rows);
    return b;
  };
}

}  // namespace hypergrad
