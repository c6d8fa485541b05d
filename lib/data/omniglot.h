// Omniglot characters from the zip of 105×105 1-bit PNGs (images_background_small1.zip, 20 drawers
// per character; the authors used their own 28 × 28 file), downsampled to 28×28 by area averaging,
// with ink = 1.
#ifndef HYPERGRAD_DATA_OMNIGLOT_H_
#define HYPERGRAD_DATA_OMNIGLOT_H_

#include <span>
#include <string>
#include <vector>

namespace hypergrad {

inline constexpr std::size_t kOmniglotSide = 105;
inline constexpr std::size_t kSmallSide = 28;

struct OmniglotImage {
  std::string alphabet;   // e.g. "Balinese"
  int character = 0;      // NN of "characterNN" (1-based, as in the zip)
  int drawer = 0;         // the number after '_' in the file name (1–20)
  std::vector<double> pixels;  // 28 × 28 row-major, ink in [0, 1]
};

// Reads every "<split>/<Alphabet>/character<NN>/<id>_<drawer>.png" entry of the zip, decodes it
// (libpng), converts it to ink = 1 − pixel and downsamples it with Downsample105To28. Images are
// sorted by (alphabet, character, drawer). Throws std::runtime_error naming the zip and the entry
// if the zip cannot be read, a PNG cannot be decoded or is not 105 × 105.
std::vector<OmniglotImage> LoadOmniglotZip(const std::string& zip_path);

// The tasks of the Omniglot experiment: each alphabet given, then each alphabet turned a quarter
// (RotateQuarter), as separate tasks.
struct OmniglotTasks {
  std::vector<std::string> names;  // alphabets, then "<alphabet> (rotated)"
  std::size_t classes = 0;         // output units per task (55: the largest Omniglot alphabet)
  // images[task][character][i]: the i-th used drawer's image (28 × 28, ink in [0, 1]).
  std::vector<std::vector<std::vector<std::vector<double>>>> images;
  // labels[task][character]: the output unit of the character. Each alphabet's characters get
  // a random permutation of the `classes` units, shared with its rotated copy (so that output
  // layers can share between an alphabet and its rotation).
  std::vector<std::vector<std::size_t>> labels;
};

// Builds the tasks from LoadOmniglotZip's images: `alphabets` in order, drawers 1 … `drawers`
// of every character. Throws std::invalid_argument naming the alphabet if it is missing, has a
// character without all those drawers, or has more characters than `classes`.
OmniglotTasks MakeOmniglotTasks(const std::vector<OmniglotImage>& images,
                                const std::vector<std::string>& alphabets, int drawers,
                                std::size_t classes, std::uint64_t seed);

// Area averaging from 105 × 105 to 28 × 28: output (r, c) is the coverage-weighted mean over the
// input square [3.75r, 3.75(r+1)) × [3.75c, 3.75(c+1)). Input and output row-major.
std::vector<double> Downsample105To28(std::span<const double> image105);

// Clockwise quarter turn of a 28 × 28 image, as the authors coded it: new[r][c] = old[27−c][r].
std::vector<double> RotateQuarter(std::span<const double> image28);

}  // namespace hypergrad

#endif  // HYPERGRAD_DATA_OMNIGLOT_H_
