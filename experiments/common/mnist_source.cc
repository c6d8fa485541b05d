#include "common/mnist_source.h"

#include <filesystem>
#include <initializer_list>
#include <mutex>
#include <stdexcept>

#include "data/sha256.h"

#ifndef HYPERGRAD_MNIST_DIR
#define HYPERGRAD_MNIST_DIR "data/mnist"
#endif

namespace hypergrad::experiments {

#ifndef HYPERGRAD_OMNIGLOT_ZIP
#define HYPERGRAD_OMNIGLOT_ZIP "data/omniglot/images_background_small1.zip"
#endif

#ifndef HYPERGRAD_MNIST_HASHES
#define HYPERGRAD_MNIST_HASHES ""
#endif
#ifndef HYPERGRAD_OMNIGLOT_HASH
#define HYPERGRAD_OMNIGLOT_HASH ""
#endif
#ifndef HYPERGRAD_DATA_CACHE
#define HYPERGRAD_DATA_CACHE "data-cache"
#endif

namespace {

std::mutex g_records_mutex;
std::vector<DataFileRecord> g_records;

// The pinned hash of MNIST file `name` ("hash=name,hash=name,..." from the content links).
std::string PinnedMnistHash(const std::string& name) {
  const std::string all = HYPERGRAD_MNIST_HASHES;
  std::size_t start = 0;
  while (start < all.size()) {
    std::size_t end = all.find(',', start);
    if (end == std::string::npos) end = all.size();
    const std::string entry = all.substr(start, end - start);
    const std::size_t eq = entry.find('=');
    if (eq != std::string::npos && entry.substr(eq + 1) == name) return entry.substr(0, eq);
    start = end + 1;
  }
  return "";
}

bool SamePath(const std::string& a, const std::string& b) {
  std::error_code error;
  const auto ca = std::filesystem::weakly_canonical(a, error);
  const auto cb = std::filesystem::weakly_canonical(b, error);
  return !error && ca == cb;
}

// Records `path` with its SHA-256 `actual` and (if `must_match`) checks it against `pinned`.
void CheckAndRecord(const std::string& path, const std::string& actual, const std::string& pinned,
                    bool must_match, const std::string& folder) {
  if (must_match && !pinned.empty() && actual != pinned) {
    throw std::runtime_error(path + ": SHA-256 " + actual + " is not the pinned " + pinned +
                             ": the file is corrupt. Delete " + folder + " and " +
                             HYPERGRAD_DATA_CACHE + ", then run `make data` to fetch it again");
  }
  const std::string status = actual == pinned ? "pinned (verified)"
                             : pinned.empty()  ? "no pinned hash"
                                               : "not the pinned file (given on the command line)";
  const std::lock_guard<std::mutex> lock(g_records_mutex);
  g_records.push_back({path, actual, status});
}

}  // namespace

std::string DefaultMnistDir() { return HYPERGRAD_MNIST_DIR; }

std::vector<DataFileRecord> DataFilesRead() {
  const std::lock_guard<std::mutex> lock(g_records_mutex);
  return g_records;
}

void WriteDataFiles(H5Writer& writer) {
  std::string lines;
  for (const DataFileRecord& r : DataFilesRead()) lines += r.path + " sha256:" + r.sha256 + " " + r.status + "\n";
  writer.SetAttribute("/", "data_files", lines.empty() ? std::string("none") : lines);
}

std::string CheckOmniglotZip(const std::string& path) {
  CheckAndRecord(path, Sha256OfFile(path), HYPERGRAD_OMNIGLOT_HASH, SamePath(path, DefaultOmniglotZip()),
                 std::filesystem::path(DefaultOmniglotZip()).parent_path().string());
  return path;
}

std::string DefaultOmniglotZip() { return HYPERGRAD_OMNIGLOT_ZIP; }

namespace {

// The MNIST files `files` (indices into kMnistFiles) exist in `dir`.
void RequireMnistFiles(const std::string& dir, std::initializer_list<int> files) {
  if (dir.empty()) throw std::runtime_error("the MNIST folder (--mnist-dir) is an empty path");
  std::error_code ignored;  // an inaccessible folder is reported per file below
  if (std::filesystem::exists(dir, ignored) && !std::filesystem::is_directory(dir, ignored)) {
    throw std::runtime_error(dir + ": not a folder (--mnist-dir names the folder holding the MNIST "
                                   "idx files)");
  }
  for (int i : files) {
    const std::filesystem::path path = std::filesystem::path(dir) / kMnistFiles[i];
    std::error_code error;
    const bool exists = std::filesystem::exists(path, error);
    if (error) throw std::runtime_error(path.string() + ": cannot access: " + error.message());
    if (!exists) {
      throw std::runtime_error("MNIST file " + std::string(kMnistFiles[i]) + " not found in " + dir +
                               " (build the 'mnist_data' target, e.g. `make data`, or pass "
                               "--mnist-dir with a folder holding the raw idx files)");
    }
  }
}

// Records the files with their hashes (`sha256[k]` for files[k]; hashed here if empty) and
// checks them against their pinned hashes when `dir` is the folder the build fetched.
void RecordMnistFiles(const std::string& dir, std::initializer_list<int> files,
                      const std::vector<std::string>& sha256) {
  const bool fetched = SamePath(dir, DefaultMnistDir());
  std::size_t k = 0;
  for (int i : files) {
    const std::string path = (std::filesystem::path(dir) / kMnistFiles[i]).string();
    CheckAndRecord(path, sha256.empty() ? Sha256OfFile(path) : sha256[k++],
                   PinnedMnistHash(kMnistFiles[i]), fetched, dir);
  }
}

// Runs `load`, which reads the files once and returns their hashes, then records and checks
// them. If the load fails, the files are hashed apart first, so that a corrupt fetched file is
// reported as corrupt (with the folders to delete) rather than by what its parse met.
template <typename Load>
auto LoadChecked(const std::string& dir, std::initializer_list<int> files, Load load) {
  RequireMnistFiles(dir, files);
  std::vector<std::string> sha256;
  try {
    auto data = load(&sha256);
    RecordMnistFiles(dir, files, sha256);
    return data;
  } catch (const std::runtime_error&) {
    if (sha256.empty()) RecordMnistFiles(dir, files, {});  // throws if a file is corrupt
    throw;
  }
}

}  // namespace

MnistData LoadMnistFrom(const std::string& dir) {
  return LoadChecked(dir, {0, 1, 2, 3},
                     [&](std::vector<std::string>* sha256) { return LoadMnist(dir, sha256); });
}

InitialWeightsFile ReadInitialWeights(const std::string& path, std::size_t n) {
  InitialWeightsFile file;
  if (!std::filesystem::exists(path)) throw std::runtime_error(path + ": no such file");
  file.absolute_path = std::filesystem::absolute(path).lexically_normal().string();
  file.sha256 = Sha256OfFile(path);
  std::vector<std::size_t> shape;
  file.w0 = ReadH5Doubles(path, "/w0", &shape);
  if (shape.size() != 1) {
    throw std::invalid_argument(path + ": /w0 must be one-dimensional (" + std::to_string(n) + " values), it has " +
                                std::to_string(shape.size()) + " dimensions");
  }
  if (file.w0.size() != n) {
    throw std::invalid_argument(path + ": /w0 has " + std::to_string(file.w0.size()) + " values, the network has " +
                                std::to_string(n) + " parameters");
  }
  return file;
}

Dataset LoadMnistTrainingRowsFrom(const std::string& dir, std::size_t count,
                                  std::vector<double>* mean, bool compact, unsigned threads,
                                  const std::string& count_flag) {
  return LoadChecked(dir, {0, 1}, [&](std::vector<std::string>* sha256) {
    try {
      return LoadMnistTrainingRows(dir, count, mean, compact, sha256, threads);
    } catch (const std::invalid_argument& e) {  // more rows asked for than the file holds
      if (count_flag.empty()) throw;
      throw std::invalid_argument(std::string(e.what()) + " (" + count_flag + ")");
    }
  });
}

}  // namespace hypergrad::experiments
