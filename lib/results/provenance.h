// How a result was made: recorded as attributes of every result file.
#ifndef HYPERGRAD_RESULTS_PROVENANCE_H_
#define HYPERGRAD_RESULTS_PROVENANCE_H_

#include <string>

#include "results/h5_writer.h"

namespace hypergrad {

struct Provenance {
  std::string command_line;    // argv joined with spaces (arguments with spaces quoted)
  std::string git_revision;    // of the source tree the binary was built from, or "unknown"
  std::string git_dirty;       // uncommitted changes in that tree then: "true", "false", "unknown"
  std::string start_time;      // UTC, ISO 8601
  std::string host;
  std::string compiler;        // e.g. "GCC 12.2.0"
  std::string build_type;      // CMake build type
  std::string instruction_set; // "x86-64 baseline" or "host (-march=native): <extensions>"
  std::string library_versions;  // xtensor, xtensor-blas, HDF5, Boost, OpenBLAS
};

// Collects everything but the end time, which WriteProvenance adds. The git revision and
// dirtiness are those of the sources at build time (lib/results/build_info.cmake).
Provenance CollectProvenance(int argc, char** argv);

// Writes the provenance, `quick`, the end time and, as they are at that moment, the BLAS
// (blas_library, blas_core: the kernel set OpenBLAS picked for this CPU, blas_config, blas_path,
// blas_threads) and glibc's tanh (tanh_libm: LibmTanhDescription) as attributes of the file's
// root. The kernels and the build of glibc's expm1 depend on the CPU, and so do the last bits
// of products and of tanh.
void WriteProvenance(H5Writer& writer, const Provenance& provenance, bool quick);

// Which glibc and which of its x86-64 builds of tanh the default ("libm") tanh reproduces, e.g.
// "glibc 2.36, tanh on expm1's fma build (vectorised port, equal to the system's tanh)".
std::string LibmTanhDescription();

// The current UTC time, ISO 8601 (e.g. "2026-11-28T20:15:00Z").
std::string UtcNow();

}  // namespace hypergrad

#endif  // HYPERGRAD_RESULTS_PROVENANCE_H_
