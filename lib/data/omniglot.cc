#include "data/omniglot.h"

#include <png.h>
#include <zip.h>

#include <algorithm>
#include <map>
#include <memory>
#include <numeric>
#include <regex>
#include <stdexcept>
#include <tuple>

#include "random/random.h"

namespace hypergrad {
namespace {

// Decodes a PNG held in memory to 8-bit gray.
std::vector<std::uint8_t> DecodeGray(const std::vector<std::uint8_t>& bytes, std::size_t& width,
                                     std::size_t& height, const std::string& what) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size())) {
    throw std::runtime_error(what + ": not a readable PNG (" + image.message + ")");
  }
  image.format = PNG_FORMAT_GRAY;
  std::vector<std::uint8_t> gray(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, gray.data(), 0, nullptr)) {
    const std::string message = image.message;
    png_image_free(&image);
    throw std::runtime_error(what + ": PNG decoding failed (" + message + ")");
  }
  width = image.width;
  height = image.height;
  return gray;
}

// 1-D coverage weights: weight[o][i] = length of [i, i+1) ∩ [o·s, (o+1)·s), s = 105/28.
std::vector<double> CoverageWeights() {
  const double step = static_cast<double>(kOmniglotSide) / kSmallSide;  // 3.75
  std::vector<double> weights(kSmallSide * kOmniglotSide, 0.0);
  for (std::size_t o = 0; o < kSmallSide; ++o) {
    const double lo = static_cast<double>(o) * step, hi = static_cast<double>(o + 1) * step;
    for (std::size_t i = 0; i < kOmniglotSide; ++i) {
      const auto left = static_cast<double>(i);
      const double overlap = std::min(left + 1.0, hi) - std::max(left, lo);
      if (overlap > 0) weights[o * kOmniglotSide + i] = overlap;
    }
  }
  return weights;
}

}  // namespace

std::vector<double> Downsample105To28(std::span<const double> image105) {
  if (image105.size() != kOmniglotSide * kOmniglotSide) {
    throw std::invalid_argument("Downsample105To28: expected 105 × 105 values");
  }
  static const std::vector<double> weights = CoverageWeights();
  const double area = (105.0 / 28.0) * (105.0 / 28.0);
  // Rows first (28 × 105), then columns (28 × 28).
  std::vector<double> rows(kSmallSide * kOmniglotSide, 0.0), out(kSmallSide * kSmallSide, 0.0);
  for (std::size_t o = 0; o < kSmallSide; ++o) {
    for (std::size_t i = 0; i < kOmniglotSide; ++i) {
      const double w = weights[o * kOmniglotSide + i];
      if (w == 0.0) continue;
      for (std::size_t c = 0; c < kOmniglotSide; ++c) {
        rows[o * kOmniglotSide + c] += w * image105[i * kOmniglotSide + c];
      }
    }
  }
  for (std::size_t r = 0; r < kSmallSide; ++r) {
    for (std::size_t o = 0; o < kSmallSide; ++o) {
      double sum = 0.0;
      for (std::size_t c = 0; c < kOmniglotSide; ++c) {
        sum += weights[o * kOmniglotSide + c] * rows[r * kOmniglotSide + c];
      }
      out[r * kSmallSide + o] = sum / area;
    }
  }
  return out;
}

std::vector<double> RotateQuarter(std::span<const double> image28) {
  if (image28.size() != kSmallSide * kSmallSide) {
    throw std::invalid_argument("RotateQuarter: expected 28 × 28 values");
  }
  std::vector<double> out(image28.size());
  for (std::size_t r = 0; r < kSmallSide; ++r) {
    for (std::size_t c = 0; c < kSmallSide; ++c) {
      out[r * kSmallSide + c] = image28[(kSmallSide - 1 - c) * kSmallSide + r];
    }
  }
  return out;
}

std::vector<OmniglotImage> LoadOmniglotZip(const std::string& zip_path) {
  int error = 0;
  std::unique_ptr<zip_t, decltype(&zip_discard)> archive(zip_open(zip_path.c_str(), ZIP_RDONLY, &error),
                                                         &zip_discard);
  if (!archive) {
    zip_error_t z;
    zip_error_init_with_code(&z, error);
    const std::string message = zip_error_strerror(&z);
    zip_error_fini(&z);
    throw std::runtime_error(zip_path + ": cannot open as a zip archive (" + message + ")");
  }
  static const std::regex name_pattern(R"(^(?:[^/]+/)?([^/]+)/character(\d+)/\d+_(\d+)\.png$)");
  std::vector<OmniglotImage> images;
  const zip_int64_t entries = zip_get_num_entries(archive.get(), 0);
  for (zip_int64_t index = 0; index < entries; ++index) {
    const char* raw_name = zip_get_name(archive.get(), static_cast<zip_uint64_t>(index), 0);
    const std::string name = raw_name ? raw_name : "";
    std::smatch match;
    if (!std::regex_match(name, match, name_pattern)) continue;  // folders, other files
    const std::string what = zip_path + ": " + name;
    zip_stat_t stat;
    zip_stat_index(archive.get(), static_cast<zip_uint64_t>(index), 0, &stat);
    std::vector<std::uint8_t> bytes(stat.size);
    std::unique_ptr<zip_file_t, decltype(&zip_fclose)> file(
        zip_fopen_index(archive.get(), static_cast<zip_uint64_t>(index), 0), &zip_fclose);
    // A read error (a CRC mismatch included) is the file handle's, not the archive's.
    if (!file) {
      throw std::runtime_error(what + ": cannot open the entry (" + zip_strerror(archive.get()) + ")");
    }
    if (zip_fread(file.get(), bytes.data(), stat.size) != static_cast<zip_int64_t>(stat.size)) {
      throw std::runtime_error(what + ": cannot read the entry (" + zip_file_strerror(file.get()) +
                               "): the zip is corrupt");
    }
    std::size_t width = 0, height = 0;
    const std::vector<std::uint8_t> gray = DecodeGray(bytes, width, height, what);
    if (width != kOmniglotSide || height != kOmniglotSide) {
      throw std::runtime_error(what + ": image is " + std::to_string(width) + " × " +
                               std::to_string(height) + ", expected 105 × 105");
    }
    std::vector<double> ink(gray.size());
    for (std::size_t i = 0; i < gray.size(); ++i) ink[i] = 1.0 - gray[i] / 255.0;
    images.push_back({match[1].str(), std::stoi(match[2].str()), std::stoi(match[3].str()),
                      Downsample105To28(ink)});
  }
  if (images.empty()) throw std::runtime_error(zip_path + ": no Omniglot PNG entries");
  std::sort(images.begin(), images.end(), [](const OmniglotImage& a, const OmniglotImage& b) {
    return std::tie(a.alphabet, a.character, a.drawer) < std::tie(b.alphabet, b.character, b.drawer);
  });
  return images;
}

OmniglotTasks MakeOmniglotTasks(const std::vector<OmniglotImage>& images,
                                const std::vector<std::string>& alphabets, int drawers,
                                std::size_t classes, std::uint64_t seed) {
  OmniglotTasks tasks;
  tasks.classes = classes;
  const std::size_t count = alphabets.size();
  tasks.images.resize(2 * count);
  tasks.labels.resize(2 * count);
  for (std::size_t a = 0; a < count; ++a) {
    // character number → drawer number → image
    std::map<int, std::map<int, const OmniglotImage*>> found;
    for (const OmniglotImage& image : images) {
      if (image.alphabet == alphabets[a] && image.drawer >= 1 && image.drawer <= drawers) {
        found[image.character][image.drawer] = &image;
      }
    }
    if (found.empty()) throw std::invalid_argument("Omniglot: no images of alphabet " + alphabets[a]);
    if (found.size() > classes) {
      throw std::invalid_argument("Omniglot: alphabet " + alphabets[a] + " has " +
                                  std::to_string(found.size()) + " characters, more than " +
                                  std::to_string(classes) + " output units");
    }
    std::vector<std::size_t> permutation(classes);
    std::iota(permutation.begin(), permutation.end(), 0);
    RandomStream rng(seed, {a});
    for (std::size_t i = classes; i > 1; --i) std::swap(permutation[i - 1], permutation[rng.UniformInt(i)]);
    std::size_t c = 0;
    for (const auto& [character, by_drawer] : found) {
      if (by_drawer.size() != static_cast<std::size_t>(drawers)) {
        throw std::invalid_argument("Omniglot: alphabet " + alphabets[a] + ", character " +
                                    std::to_string(character) + " has " +
                                    std::to_string(by_drawer.size()) + " of drawers 1-" +
                                    std::to_string(drawers));
      }
      std::vector<std::vector<double>> upright, turned;
      for (const auto& [drawer, image] : by_drawer) {
        upright.push_back(image->pixels);
        turned.push_back(RotateQuarter(image->pixels));
      }
      tasks.images[a].push_back(std::move(upright));
      tasks.images[count + a].push_back(std::move(turned));
      tasks.labels[a].push_back(permutation[c]);
      tasks.labels[count + a].push_back(permutation[c]);
      ++c;
    }
  }
  for (const auto& name : alphabets) tasks.names.push_back(name);
  for (const auto& name : alphabets) tasks.names.push_back(name + " (rotated)");
  return tasks;
}

}  // namespace hypergrad
