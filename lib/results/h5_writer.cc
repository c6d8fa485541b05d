#include "results/h5_writer.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <H5Cpp.h>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <numeric>
#include <stdexcept>
#include <vector>

namespace hypergrad {
namespace {

// HDF5's C++ exceptions do not derive from std::exception: translate them, with context.
template <class F>
auto Translate(const std::string& context, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const H5::Exception& e) {
    throw std::runtime_error(context + ": " + e.getCDetailMsg());
  } catch (const std::runtime_error& e) {  // what is wrong, from the checks below
    throw std::runtime_error(context + ": " + e.what());
  }
}

std::vector<hsize_t> Dims(std::size_t size, const std::vector<std::size_t>& shape,
                          const std::string& name) {
  if (shape.empty()) return {static_cast<hsize_t>(size)};
  const std::size_t product =
      std::accumulate(shape.begin(), shape.end(), std::size_t{1}, std::multiplies<>());
  if (product != size) {
    throw std::invalid_argument("H5Writer: dataset '" + name + "' has " + std::to_string(size) +
                                " values but its shape holds " + std::to_string(product));
  }
  return {shape.begin(), shape.end()};
}

H5::LinkCreatPropList IntermediateGroups() {
  H5::LinkCreatPropList list;
  list.setCreateIntermediateGroup(true);
  return list;
}

// What `name` ("/a/b/c") names in `file`: nothing, a group, a dataset (or another object).
// Every object on the way must be a group; if one is not, `blocker` says which.
enum class Found { kNothing, kGroup, kDataset, kOther };
Found Lookup(H5::H5File& file, const std::string& name, std::string* blocker) {
  std::string prefix = name.starts_with('/') ? "" : ".";
  Found found = Found::kGroup;  // the root
  for (std::size_t start = 0; start < name.size();) {
    std::size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    if (end > start) {
      if (found != Found::kGroup) {
        *blocker = prefix + " is a " + (found == Found::kDataset ? "dataset" : "named type") + ", not a group";
        return Found::kOther;
      }
      prefix += "/" + name.substr(start, end - start);
      if (!file.nameExists(prefix)) return Found::kNothing;
      const H5O_type_t type = file.childObjType(prefix);
      found = type == H5O_TYPE_GROUP ? Found::kGroup : type == H5O_TYPE_DATASET ? Found::kDataset : Found::kOther;
    }
    start = end + 1;
  }
  return found;
}

// Throws, naming the file and `name`, unless `name` is free for a new dataset.
void CheckNewDataset(H5::H5File& file, const std::string& path, const std::string& name) {
  std::string blocker;
  const Found found = Lookup(file, name, &blocker);
  if (!blocker.empty()) throw std::runtime_error(path + ", dataset " + name + ": " + blocker);
  if (found != Found::kNothing) {
    throw std::runtime_error(path + ", dataset " + name + ": " + name + " exists already (as a " +
                             (found == Found::kGroup ? "group" : found == Found::kDataset ? "dataset" : "named type") +
                             ")");
  }
}

// Runs `f` on the file itself ("/"), or on the named group or dataset.
template <class F>
void WithObject(H5::H5File& file, const std::string& name, F&& f) {
  if (name == "/" || name.empty()) return f(static_cast<H5::H5Object&>(file));
  std::string blocker;
  const Found found = Lookup(file, name, &blocker);
  if (!blocker.empty()) throw std::runtime_error(blocker);
  if (found == Found::kNothing || found == Found::kOther) {
    throw std::runtime_error("no object " + name + " to hold the attribute (write the dataset or group first)");
  }
  if (found == Found::kGroup) {
    H5::Group group = file.openGroup(name);
    f(group);
  } else {
    H5::DataSet data = file.openDataSet(name);
    f(data);
  }
}

void WriteAttribute(H5::H5File& file, const std::string& object, const std::string& name,
                    const H5::DataType& type, const H5::DataSpace& space, const void* data) {
  WithObject(file, object, [&](H5::H5Object& target) {
    if (target.attrExists(name)) target.removeAttr(name);
    target.createAttribute(name, type, space).write(type, data);
  });
}

std::string Reason(int error) { return std::strerror(error); }

std::string HostName() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return host;
}

// ".<name><tag><host>-<pid>": the host tells which machine's process table the pid belongs to
// (a folder may be shared between machines), so that stale files can be told from live ones.
std::filesystem::path TempPath(const std::filesystem::path& target, const std::string& tag) {
  return target.parent_path() /
         ("." + target.filename().string() + tag + HostName() + "-" + std::to_string(getpid()));
}

// The pid of a temporary or probe file left by a writer of this host, or 0 if `name` is not one
// (".<name>.tmp-<host>-<pid>", ".<name>.probe-<host>-<pid>", or the older ".<name>.tmp-<pid>").
pid_t WriterPid(const std::string& name, const std::string& host) {
  if (name.size() < 2 || name[0] != '.') return 0;
  const std::size_t dash = name.rfind('-');
  if (dash == std::string::npos || dash + 1 == name.size() || dash + 10 < name.size() ||
      name.find_first_not_of("0123456789", dash + 1) != std::string::npos) {
    return 0;
  }
  const std::string head = name.substr(0, dash + 1);
  const auto ends_with = [&](const std::string& tail) {
    return head.size() > tail.size() + 1 && head.compare(head.size() - tail.size(), tail.size(), tail) == 0;
  };
  if (!ends_with(".tmp-" + host + "-") && !ends_with(".probe-" + host + "-") && !ends_with(".tmp-")) return 0;
  return static_cast<pid_t>(std::stol(name.substr(dash + 1)));
}

// Removes the temporary and probe files in `dir` whose writer (on this host) no longer exists.
void RemoveStaleTemporaries(const std::filesystem::path& dir) {
  const std::string host = HostName();
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir.empty() ? "." : dir, error)) {
    const std::string name = entry.path().filename().string();
    const pid_t pid = WriterPid(name, host);
    if (pid <= 0 || pid == getpid() || !entry.is_regular_file(error)) continue;
    if (kill(pid, 0) == 0 || errno != ESRCH) continue;  // alive, or not ours to ask about
    if (unlink(entry.path().c_str()) == 0) {
      std::fprintf(stderr, "removed %s, left by process %ld, which no longer exists\n", entry.path().c_str(),
                   static_cast<long>(pid));
    }
  }
}

// Temporary files that SIGINT/SIGTERM must remove: fixed slots, so the handler only reads
// memory that is always there (async-signal-safe: unlink, signal, raise).
constexpr int kSlots = 16;
constexpr std::size_t kPathMax = 4096;
char g_temp_paths[kSlots][kPathMax];
std::atomic<bool> g_slot_claimed[kSlots];  // a writer owns the slot
std::atomic<bool> g_slot_ready[kSlots];    // and its path is written: the handler may use it
char g_program[256];                        // InstallInterruptHandlers: say so on a signal
std::atomic<bool> g_committed{false};       // the last writer opened has committed its file

void Say(const char* text) {
  for (std::size_t left = std::strlen(text); left > 0;) {
    const ssize_t done = write(2, text, left);
    if (done <= 0) return;
    text += done;
    left -= static_cast<std::size_t>(done);
  }
}

void RemoveEmptyCreatedFolders();

extern "C" void RemoveTempFilesAndDie(int signal_number) {
  for (int i = 0; i < kSlots; ++i) {
    if (g_slot_ready[i].load()) unlink(g_temp_paths[i]);
  }
  RemoveEmptyCreatedFolders();
  if (g_program[0] != '\0') {  // only async-signal-safe calls: write, unlink, signal, raise
    Say(g_program);
    Say(signal_number == SIGINT ? ": interrupted: " : ": terminated: ");
    Say(g_committed.load() ? "the result file was written before the signal\n" : "no file written\n");
  }
  ::signal(signal_number, SIG_DFL);
  ::raise(signal_number);
}

// Folders CheckResultPath created (in creation order): removed, deepest first, at exit and on SIGINT/SIGTERM if
// still empty, i.e. if no result was written into them (rmdir removes only an empty folder, so a
// committed file keeps its folder). Fixed slots, as the temporary files'.
constexpr int kDirSlots = 16;
char g_created_dirs[kDirSlots][kPathMax];
std::atomic<int> g_created_count{0};

void RemoveEmptyCreatedFolders() {  // async-signal-safe: rmdir only
  for (int i = g_created_count.load(); i-- > 0;) rmdir(g_created_dirs[i]);
}

extern "C" void RemoveEmptyCreatedFoldersAtExit() { RemoveEmptyCreatedFolders(); }

void InstallHandlersOnce() {
  static const bool installed = [] {
    for (const int s : {SIGINT, SIGTERM}) {
      // A signal ignored when the program started stays ignored (a background job of a
      // script, nohup): the user asked for it not to end the program.
      struct sigaction before {};
      if (sigaction(s, nullptr, &before) == 0 && before.sa_handler == SIG_IGN) continue;
      struct sigaction action {};
      action.sa_handler = RemoveTempFilesAndDie;
      sigemptyset(&action.sa_mask);
      sigaction(s, &action, nullptr);
    }
    return true;
  }();
  (void)installed;
}

int RegisterTemp(const std::string& path) {
  InstallHandlersOnce();
  if (path.size() >= kPathMax) return -1;
  for (int i = 0; i < kSlots; ++i) {
    bool expected = false;
    if (!g_slot_claimed[i].compare_exchange_strong(expected, true)) continue;
    std::memcpy(g_temp_paths[i], path.c_str(), path.size() + 1);
    g_slot_ready[i].store(true);
    return i;
  }
  return -1;
}

void Unregister(int slot) {
  if (slot < 0) return;
  g_slot_ready[slot].store(false);
  g_slot_claimed[slot].store(false);
}

}  // namespace

void InstallInterruptHandlers(const std::string& program) {
  const std::size_t length = std::min(program.size(), sizeof g_program - 1);
  std::memcpy(g_program, program.data(), length);
  g_program[length] = '\0';
  InstallHandlersOnce();
}

void CheckResultPath(const std::string& path) {
  if (path.empty()) throw std::runtime_error("result file: the path is empty");
  const std::filesystem::path target(path);
  if (target.filename().empty() || target.filename() == "." || target.filename() == "..") {
    throw std::runtime_error("result file '" + path + "': names a folder, not a file");
  }
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    if (S_ISLNK(st.st_mode)) {
      throw std::runtime_error("result file '" + path + "': is a symbolic link; give the file it "
                               "points to (a link is never replaced)");
    }
    if (!S_ISREG(st.st_mode)) {
      throw std::runtime_error("result file '" + path + "': exists and is not a regular file "
                               "(a folder, device or FIFO is never replaced)");
    }
  } else if (errno != ENOENT) {
    throw std::runtime_error("result file '" + path + "': " + Reason(errno));
  }
  const std::filesystem::path dir = target.parent_path();
  if (!dir.empty()) {
    // The folders that do not exist yet, deepest first, to be removed again if they stay empty.
    std::vector<std::string> missing;
    for (std::filesystem::path d = dir; !d.empty(); d = d.parent_path()) {
      struct stat dst {};
      if (lstat(d.c_str(), &dst) == 0) break;
      missing.push_back(d.string());
      if (d == d.parent_path()) break;
    }
    std::error_code error;
    std::filesystem::create_directories(dir, error);
    if (error) throw std::runtime_error("result file '" + path + "': cannot create its folder: " + error.message());
    static const bool at_exit = [] { return std::atexit(RemoveEmptyCreatedFoldersAtExit) == 0; }();
    (void)at_exit;
    InstallHandlersOnce();
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {  // shallowest first in the list
      const int slot = g_created_count.load();
      if (slot >= kDirSlots || it->size() >= kPathMax) break;
      std::memcpy(g_created_dirs[slot], it->c_str(), it->size() + 1);
      g_created_count.store(slot + 1);
    }
  }
  RemoveStaleTemporaries(dir);
  const std::string probe = TempPath(target, ".probe-").string();
  const int fd = open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (fd < 0) {
    throw std::runtime_error("result file '" + path + "': cannot create a file in " +
                             (dir.empty() ? std::string(".") : dir.string()) + ": " + Reason(errno));
  }
  close(fd);
  unlink(probe.c_str());
}

H5Writer::H5Writer(const std::string& path) : path_(path) {
  H5::Exception::dontPrint();
  CheckResultPath(path);
  temp_path_ = TempPath(std::filesystem::path(path), ".tmp-").string();
  g_committed.store(false);
  slot_ = RegisterTemp(temp_path_);
  // Create it ourselves first, so a failure says why (HDF5 would only say H5Fcreate failed).
  const int fd = open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
  if (fd < 0) {
    const int error = errno;
    Unregister(slot_);
    throw std::runtime_error("result file '" + path + "': cannot create " + temp_path_ + ": " + Reason(error));
  }
  close(fd);
  try {
    file_ = Translate(path_, [&] { return std::make_unique<H5::H5File>(temp_path_, H5F_ACC_TRUNC); });
  } catch (...) {
    unlink(temp_path_.c_str());
    Unregister(slot_);
    throw;
  }
}

H5Writer::~H5Writer() {
  if (committed_) return;
  try {
    if (file_) file_->close();
  } catch (...) {
  }
  unlink(temp_path_.c_str());
  Unregister(slot_);
}

void H5Writer::Write(const std::string& name, std::span<const double> values,
                     std::vector<std::size_t> shape) {
  const auto dims = Dims(values.size(), shape, name);
  CheckNewDataset(*file_, path_, name);
  Translate(path_ + ", dataset " + name, [&] {
    H5::DataSpace space(static_cast<int>(dims.size()), dims.data());
    file_->createDataSet(name, H5::PredType::NATIVE_DOUBLE, space, H5::DSetCreatPropList(),
                         H5::DSetAccPropList(), IntermediateGroups())
        .write(values.data(), H5::PredType::NATIVE_DOUBLE);
  });
}

void H5Writer::WriteInts(const std::string& name, std::span<const std::int64_t> values,
                         std::vector<std::size_t> shape) {
  const auto dims = Dims(values.size(), shape, name);
  CheckNewDataset(*file_, path_, name);
  Translate(path_ + ", dataset " + name, [&] {
    H5::DataSpace space(static_cast<int>(dims.size()), dims.data());
    file_->createDataSet(name, H5::PredType::NATIVE_INT64, space, H5::DSetCreatPropList(),
                         H5::DSetAccPropList(), IntermediateGroups())
        .write(values.data(), H5::PredType::NATIVE_INT64);
  });
}

void H5Writer::WriteScalar(const std::string& name, double value) {
  CheckNewDataset(*file_, path_, name);
  Translate(path_ + ", dataset " + name, [&] {
    file_->createDataSet(name, H5::PredType::NATIVE_DOUBLE, H5::DataSpace(H5S_SCALAR),
                         H5::DSetCreatPropList(), H5::DSetAccPropList(), IntermediateGroups())
        .write(&value, H5::PredType::NATIVE_DOUBLE);
  });
}

void H5Writer::SetAttribute(const std::string& object, const std::string& name,
                            const std::string& value) {
  Translate(path_ + ", attribute " + object + "@" + name, [&] {
    const H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
    type.setCset(H5T_CSET_UTF8);
    const char* text = value.c_str();
    WriteAttribute(*file_, object, name, type, H5::DataSpace(H5S_SCALAR), &text);
  });
}

void H5Writer::SetAttribute(const std::string& object, const std::string& name, double value) {
  Translate(path_ + ", attribute " + object + "@" + name, [&] {
    WriteAttribute(*file_, object, name, H5::PredType::NATIVE_DOUBLE, H5::DataSpace(H5S_SCALAR),
                   &value);
  });
}

void H5Writer::SetAttribute(const std::string& object, const std::string& name,
                            std::int64_t value) {
  Translate(path_ + ", attribute " + object + "@" + name, [&] {
    WriteAttribute(*file_, object, name, H5::PredType::NATIVE_INT64, H5::DataSpace(H5S_SCALAR),
                   &value);
  });
}

void H5Writer::SetAttribute(const std::string& object, const std::string& name, bool value) {
  Translate(path_ + ", attribute " + object + "@" + name, [&] {
    H5::EnumType type(H5::PredType::NATIVE_INT8);
    std::int8_t no = 0, yes = 1;
    type.insert("FALSE", &no);
    type.insert("TRUE", &yes);
    const std::int8_t stored = value ? 1 : 0;
    WriteAttribute(*file_, object, name, type, H5::DataSpace(H5S_SCALAR), &stored);
  });
}

void H5Writer::SetAttribute(const std::string& object, const std::string& name,
                            std::span<const double> values) {
  Translate(path_ + ", attribute " + object + "@" + name, [&] {
    const hsize_t size = values.size();
    WriteAttribute(*file_, object, name, H5::PredType::NATIVE_DOUBLE, H5::DataSpace(1, &size),
                   values.data());
  });
}

void H5Writer::Commit() {
  Translate(path_, [&] { file_->close(); });
  // Checked again: something may have appeared at the path during the run.
  struct stat st {};
  if (lstat(path_.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode)) {
      throw std::runtime_error("result file '" + path_ + "': is no longer a regular file; not replaced");
    }
    chmod(temp_path_.c_str(), st.st_mode & 07777);  // replacing a file keeps its mode
  }
  if (std::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    throw std::runtime_error("result file '" + path_ + "': cannot rename " + temp_path_ + " to it: " + Reason(errno));
  }
  committed_ = true;
  g_committed.store(true);
  Unregister(slot_);
}

std::vector<double> ReadH5Doubles(const std::string& path, const std::string& name,
                                  std::vector<std::size_t>* shape) {
  H5::Exception::dontPrint();
  if (!std::filesystem::exists(path)) throw std::runtime_error(path + ": no such file");
  const bool hdf5 = Translate(path, [&] { return H5::H5File::isHdf5(path); });
  if (!hdf5) throw std::runtime_error(path + ": not an HDF5 file");
  return Translate(path, [&] {
    H5::H5File file(path, H5F_ACC_RDONLY);
    std::string blocker;
    switch (Lookup(file, name, &blocker)) {
      case Found::kDataset: break;
      case Found::kGroup: throw std::runtime_error(name + " is a group, not a dataset");
      case Found::kNothing: throw std::runtime_error("no dataset '" + name + "'");
      case Found::kOther:
        throw std::runtime_error(blocker.empty() ? name + " is not a dataset" : "no dataset '" + name + "': " + blocker);
    }
    H5::DataSet data = file.openDataSet(name);
    const H5T_class_t type_class = data.getTypeClass();
    if (type_class != H5T_FLOAT || data.getDataType().getSize() != 8) {
      const std::string what = type_class == H5T_FLOAT ? "float" + std::to_string(8 * data.getDataType().getSize())
                               : type_class == H5T_INTEGER ? std::string("integer")
                               : type_class == H5T_STRING  ? std::string("string")
                                                           : std::string("non-numeric");
      throw std::runtime_error(name + " holds " + what + " values, not float64 (convert it to float64 first)");
    }
    H5::DataSpace space = data.getSpace();
    std::vector<hsize_t> dims(static_cast<std::size_t>(space.getSimpleExtentNdims()));
    space.getSimpleExtentDims(dims.data());
    std::size_t size = 1;
    for (hsize_t d : dims) size *= d;
    if (shape != nullptr) shape->assign(dims.begin(), dims.end());
    std::vector<double> values(size);
    data.read(values.data(), H5::PredType::NATIVE_DOUBLE);
    return values;
  });
}

}  // namespace hypergrad
