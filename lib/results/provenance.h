// How a result was made: recorded as attributes of every result file.
#ifndef HYPERGRAD_RESULTS_PROVENANCE_H_
#define HYPERGRAD_RESULTS_PROVENANCE_H_

#include <string>
#include <utility>
#include <vector>

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

// What decides the last bits of products and of tanh, as it is at the moment of the call, by
// name: the BLAS (blas_library: name and version, blas_core: the kernel set OpenBLAS picked for
// this CPU, blas_config: openblas_get_config(), blas_path), the matrix product kernel Gemm runs
// (gemm_kernel: "openblas" or "portable", gemm_kernel_detail: DescribeGemmKernel), glibc's
// tanh (tanh_libm: LibmTanhDescription) and its exp/log build (libm_build: LibmBuild). OpenBLAS's kernels and the build of glibc's expm1
// depend on the CPU; the portable Gemm kernel does not.
std::vector<std::pair<std::string, std::string>> ArithmeticProvenance();

// Writes the provenance, `quick`, the end time, blas_threads and ArithmeticProvenance() as
// attributes of the file's root.
void WriteProvenance(H5Writer& writer, const Provenance& provenance, bool quick);

// Which of glibc's x86-64 builds of exp and log this process calls: glibc picks them at load
// time (IFUNCs, sysdeps/x86_64/fpu/multiarch): a build compiled with -mfma -mavx2 on CPUs with
// FMA and AVX2, others elsewhere (SSE2; FMA4 for exp on AMD's FMA4 CPUs) or when
// GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2,-FMA hides them. The builds differ in the last bit at
// about 1 input in 1,300 for exp (log, log2, pow, sin, cos, sincos, expm1 and log1p likewise,
// chosen by the same test), so softmax, the initial normal draws, the meta-optimisers' steps and
// the buffers' information counts depend on it. Decided by
// probing exp and log at inputs where the builds differ (measured with glibc 2.36):
//   "fma": the FMA build, the one every committed result used (supported CPUs: x86-64 with FMA
//          and AVX2, i.e. x86-64-v3: Intel since Haswell, AMD since Excavator);
//   "other": any other build; results differ in the last bits from the committed ones.
std::string LibmBuild();

// Which glibc and which of its x86-64 builds of tanh the default ("libm") tanh reproduces, e.g.
// "glibc 2.36, tanh on expm1's fma build (vectorised port, equal to the system's tanh)".
std::string LibmTanhDescription();

// The current UTC time, ISO 8601 (e.g. "2026-11-28T20:15:00Z").
std::string UtcNow();

}  // namespace hypergrad

#endif  // HYPERGRAD_RESULTS_PROVENANCE_H_
