// Where the experiments find their data: the files the build fetched (build/data/), or the
// folder or file given on the command line.
#ifndef HYPERGRAD_EXPERIMENTS_COMMON_MNIST_SOURCE_H_
#define HYPERGRAD_EXPERIMENTS_COMMON_MNIST_SOURCE_H_

#include <string>
#include <vector>

#include "data/mnist.h"
#include "results/h5_writer.h"

namespace hypergrad::experiments {

// The folder configured at build time.
std::string DefaultMnistDir();

// The Omniglot zip (images_background_small1.zip) fetched by the build.
std::string DefaultOmniglotZip();

// Loads MNIST from `dir`; if the files are not there, the error says where they were looked for
// and how to get them. Every file's SHA-256 is computed and recorded (DataFilesRead); the files
// the build fetched (`dir` is DefaultMnistDir()) must match their pinned hashes, or the error
// names the corrupt file and the folders to delete before `make data` fetches it again. Each
// file is read once: hashed as it is parsed.
MnistData LoadMnistFrom(const std::string& dir);
// The same checks for the two training files only, then LoadMnistTrainingRows (data/mnist.h):
// the first `count` training images and, if `mean` is given, the mean of all 60,000, loaded on
// up to `threads` threads (the same bits for any number). With `count_flag`, the error for more
// rows than the file holds names that option too.
Dataset LoadMnistTrainingRowsFrom(const std::string& dir, std::size_t count,
                                  std::vector<double>* mean, bool compact = false,
                                  unsigned threads = 1, const std::string& count_flag = "");

// The Omniglot zip at `path`, checked and recorded the same way (pinned when it is
// DefaultOmniglotZip()). Returns `path`.
std::string CheckOmniglotZip(const std::string& path);

// Initial weights given as a file (hypergrad --w0): the float64 dataset /w0 of the HDF5 file at
// `path`, one-dimensional with `n` values, and the file's provenance.
struct InitialWeightsFile {
  std::vector<double> w0;
  std::string absolute_path;  // the path as typed, made absolute (not resolved through links)
  std::string sha256;         // of the whole file, hashed before it is read
};
// Throws std::runtime_error or std::invalid_argument naming the file and what is wrong: those
// of ReadH5Doubles (no such file, not HDF5, no /w0, a group, not float64: refused, never
// converted), more than one dimension, or another number of values than `n`.
InitialWeightsFile ReadInitialWeights(const std::string& path, std::size_t n);

// A data file this program has read: path, SHA-256, and whether it is the pinned file.
struct DataFileRecord {
  std::string path, sha256, status;
};
// Every data file read so far, in order (recorded in each result file's provenance).
std::vector<DataFileRecord> DataFilesRead();
// Writes them as the root attribute "data_files" (one line per file: path, sha256, status).
void WriteDataFiles(H5Writer& writer);

}  // namespace hypergrad::experiments

#endif  // HYPERGRAD_EXPERIMENTS_COMMON_MNIST_SOURCE_H_
