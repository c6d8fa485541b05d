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
// It also removes, from that folder, the temporary and probe files of H5Writers that were
// killed before they could (SIGKILL, the OOM killer, preemption): files named
// ".<name>.tmp-<host>-<pid>" or ".<name>.probe-<host>-<pid>" whose host is this one and whose
// process no longer exists (kill(pid, 0) fails with ESRCH), and ".<name>.tmp-<pid>" (the name
// before the host was added), taken to be this host's. Another host's files (a shared folder)
// and a live process's are left alone; each removal is reported on stderr.
// Folders of `path` that do not exist are created; those this call created are removed again at
// exit and on SIGINT/SIGTERM if they are still empty (no result was committed into them).
void CheckResultPath(const std::string& path);

// Makes SIGINT and SIGTERM print "<program>: interrupted: no file written" (or "terminated:")
// on stderr (or, if the last writer opened has already committed, that its file was written
// before the signal), remove the
// temporary files of every open H5Writer, and then end the process by the same signal (exit
// status 130 for SIGINT in a shell). A signal that was ignored when this is first called (a
// background job of a script, nohup) stays ignored. Every program's main() calls it before its work starts;
// without it, the writers still remove their temporaries on those signals but print nothing.
void InstallInterruptHandlers(const std::string& program);

// Everything is written to a temporary file beside `path` (".<name>.tmp-<host>-<pid>"), which
// Commit() renames to `path` in one step. A writer destroyed without Commit() (an exception,
// an error exit) deletes the temporary file, and so does SIGINT or SIGTERM at any point (the
// signal then ends the process as it would have), so a failed run never leaves a result file,
// whole or partial; a killed one leaves the temporary, which the next run writing to the same
// folder removes (CheckResultPath). Replacing an existing file keeps its permission bits. The
// constructor runs CheckResultPath. Dataset and attribute names may contain '/': groups are
// created as needed. Every error is a std::runtime_error naming the file and the object and
// saying what is wrong ("/x exists already", "/x is a dataset, not a group", "no object /y").
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

// A float64 dataset (IEEE binary64, either byte order) of any shape, flattened in row-major
// order; its shape in `shape` if given. Throws std::runtime_error naming the file and saying
// what is wrong: no such file, not an HDF5 file, no dataset of that name, a group of that name,
// or values of another type (float32, float16, integer, ...: refused, never converted).
std::vector<double> ReadH5Doubles(const std::string& path, const std::string& name,
                                  std::vector<std::size_t>* shape = nullptr);

}  // namespace hypergrad

#endif  // HYPERGRAD_RESULTS_H5_WRITER_H_
