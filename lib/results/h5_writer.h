// HDF5 result files, written atomically, and reading float64 datasets back.
#ifndef HYPERGRAD_RESULTS_H5_WRITER_H_
#define HYPERGRAD_RESULTS_H5_WRITER_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace H5 {
class H5File;
}

namespace hypergrad {

// Checks, before any work is done, that a result can be written at `path`: the path is not
// empty; if something exists there it is a regular file (a device, FIFO, folder or symlink is
// refused, never replaced); its folder exists or can be created; and a file can be created in
// that folder (a probe file is created and removed). Throws std::runtime_error naming the path
// and the reason (strerror: permission denied, read-only file system, ...).
void CheckResultPath(const std::string& path);

// Everything is written to a temporary file beside `path` (".<name>.tmp-<pid>"), which
// Commit() renames to `path` in one step. A writer destroyed without Commit() (an exception,
// an error exit) deletes the temporary file, and so does SIGINT or SIGTERM at any point (the
// signal then ends the process as it would have), so a failed run never leaves a result file,
// whole or partial. Replacing an existing file keeps its permission bits. The constructor runs
// CheckResultPath. Dataset and attribute names may contain '/': groups are created as needed.
// Every error is a std::runtime_error naming the file and the object.
class H5Writer {
 public:
  explicit H5Writer(const std::string& path);
  ~H5Writer();
  H5Writer(const H5Writer&) = delete;
  H5Writer& operator=(const H5Writer&) = delete;

  // A float64 dataset; `shape` defaults to {values.size()} and must multiply to values.size().
  void Write(const std::string& name, std::span<const double> values,
             std::vector<std::size_t> shape = {});
  // An int64 dataset (counts, seeds, indices).
  void WriteInts(const std::string& name, std::span<const std::int64_t> values,
                 std::vector<std::size_t> shape = {});
  // A scalar float64 dataset.
  void WriteScalar(const std::string& name, double value);

  // Attributes on `object` ("/" for the file, or a dataset or group written before).
  void SetAttribute(const std::string& object, const std::string& name, const std::string& value);
  void SetAttribute(const std::string& object, const std::string& name, const char* value) {
    SetAttribute(object, name, std::string(value));
  }
  void SetAttribute(const std::string& object, const std::string& name, double value);
  void SetAttribute(const std::string& object, const std::string& name, std::int64_t value);
  // Counts and sizes, stored as int64.
  void SetAttribute(const std::string& object, const std::string& name, std::size_t value) {
    SetAttribute(object, name, static_cast<std::int64_t>(value));
  }
  // Stored as HDF5's enum {FALSE, TRUE} over int8, which h5py reads as numpy.bool_.
  void SetAttribute(const std::string& object, const std::string& name, bool value);
  void SetAttribute(const std::string& object, const std::string& name,
                    std::span<const double> values);

  // Closes the file and renames it to the final path.
  void Commit();

  const std::string& path() const { return path_; }

 private:
  std::string path_, temp_path_;
  std::unique_ptr<H5::H5File> file_;
  bool committed_ = false;
  int slot_ = -1;  // in the table of temporary files removed on SIGINT/SIGTERM
};

// A float64 dataset of any shape, flattened in row-major order; its shape in `shape` if given.
// Throws std::runtime_error naming the file and dataset if either is missing or the dataset is
// not floating point.
std::vector<double> ReadH5Doubles(const std::string& path, const std::string& name,
                                  std::vector<std::size_t>* shape = nullptr);

}  // namespace hypergrad

#endif  // HYPERGRAD_RESULTS_H5_WRITER_H_
