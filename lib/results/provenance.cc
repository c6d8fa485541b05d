#include "results/provenance.h"

#include <gnu/libc-version.h>
#include <unistd.h>

#include <H5public.h>
#include <cmath>
#include <boost/version.hpp>
#include <cstdio>
#include <ctime>
#include <xtensor-blas/xblas_config.hpp>
#include <xtensor/xtensor_config.hpp>

#include "runtime/blas_threads.h"
#include "models/gemm.h"
#include "build_info.h"  // generated at build time (lib/results/build_info.cmake)
#include "models/tanh_kernel.h"

#ifndef HYPERGRAD_BUILD_TYPE
#define HYPERGRAD_BUILD_TYPE "unknown"
#endif

namespace hypergrad {
namespace {

std::string Quote(const std::string& arg) {
  if (arg.find_first_of(" \t\"'") == std::string::npos && !arg.empty()) return arg;
  std::string quoted = "'";
  for (char c : arg) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// What the compiler was allowed to use (its predefined macros), and whether that was the host's
// instruction set (CMake option HYPERGRAD_NATIVE).
std::string InstructionSet() {
  std::string extensions;
  [[maybe_unused]] const auto add = [&](const char* name) {
    extensions += (extensions.empty() ? "" : " ") + std::string(name);
  };
#ifdef __SSE4_2__
  add("sse4.2");
#endif
#ifdef __AVX__
  add("avx");
#endif
#ifdef __AVX2__
  add("avx2");
#endif
#ifdef __FMA__
  add("fma");
#endif
#ifdef __AVX512F__
  add("avx512f");
#endif
#ifdef HYPERGRAD_NATIVE_BUILD
  return "host (-march=native): " + (extensions.empty() ? std::string("no extensions") : extensions);
#else
  return "x86-64 baseline" + (extensions.empty() ? std::string() : " + " + extensions);
#endif
}

}  // namespace

std::string LibmBuild() {
  // exp and log at inputs where glibc 2.36's FMA and SSE2 builds differ by one ulp, with the FMA
  // build's results (measured: a plain run against one under glibc.cpu.hwcaps=-AVX2,-FMA).
  // volatile: computed at run time by the library, never folded by the compiler.
  volatile double exp_input = 0x1.7775cfdc785ep+2, log_input = 0x1.07863a478188bp+2;
  const bool fma = std::exp(exp_input) == 0x1.6108d2571baf9p+8 &&
                   std::log(log_input) == 0x1.6a4ea65f2a2cep+0;
  return fma ? "fma" : "other";
}

std::string LibmTanhDescription() {
  const GlibcTanhVariant variant = ActiveGlibcTanhVariant();
  const std::string glibc = std::string("glibc ") + gnu_get_libc_version();
  if (variant == GlibcTanhVariant::kSystem) return glibc + ", the system's tanh per element";
  return glibc + ", tanh on expm1's " + std::string(GlibcTanhVariantName(variant)) +
         " build (vectorised port, equal to the system's tanh)";
}

std::string UtcNow() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

Provenance CollectProvenance(int argc, char** argv) {
  Provenance p;
  if (LibmBuild() != "fma") {
    std::fprintf(stderr,
                 "warning: glibc runs its non-FMA build of exp and log here (the CPU lacks FMA or "
                 "AVX2, or GLIBC_TUNABLES hides them): results will differ in the last bits from "
                 "the committed ones, made on x86-64 CPUs with FMA and AVX2 (recorded as "
                 "libm_build)\n");
  }
  for (int i = 0; i < argc; ++i) p.command_line += (i ? " " : "") + Quote(argv[i]);
  // The state of the sources when this binary was built (build_info.h), not of the folder now.
  p.git_revision = HYPERGRAD_GIT_REVISION;
  p.git_dirty = HYPERGRAD_GIT_DIRTY;
  p.start_time = UtcNow();
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  p.host = host;
  p.compiler = std::string("GCC ") + __VERSION__;
  p.build_type = HYPERGRAD_BUILD_TYPE;
  p.instruction_set = InstructionSet();
  char versions[512];
  std::snprintf(versions, sizeof versions,
                "xtensor %d.%d.%d; xtensor-blas %d.%d.%d; HDF5 %d.%d.%d; Boost %d.%d.%d; %s",
                XTENSOR_VERSION_MAJOR, XTENSOR_VERSION_MINOR, XTENSOR_VERSION_PATCH,
                XTENSOR_BLAS_VERSION_MAJOR, XTENSOR_BLAS_VERSION_MINOR, XTENSOR_BLAS_VERSION_PATCH,
                H5_VERS_MAJOR, H5_VERS_MINOR, H5_VERS_RELEASE, BOOST_VERSION / 100000,
                BOOST_VERSION / 100 % 1000, BOOST_VERSION % 100, DescribeBlas().config.c_str());
  p.library_versions = versions;
  return p;
}

std::vector<std::pair<std::string, std::string>> ArithmeticProvenance() {
  const BlasDescription blas = DescribeBlas();
  return {{"blas_library", blas.library},
          {"blas_core", blas.core},
          {"blas_config", blas.config},
          {"blas_path", blas.path},
          {"gemm_kernel", std::string(GemmKernelName(GetGemmKernel()))},
          {"gemm_kernel_detail", DescribeGemmKernel()},
          {"tanh_libm", LibmTanhDescription()},
          {"libm_build", LibmBuild() + " (glibc " + gnu_get_libc_version() +
                             (LibmBuild() == "fma"
                                  ? ": its FMA/AVX2 builds of exp, log and the functions glibc "
                                    "picks with them, as every committed result; probed on exp "
                                    "and log)"
                                  : ": not its FMA/AVX2 build of exp and log; the last bits "
                                    "differ from the committed results)")}};
}

void WriteProvenance(H5Writer& writer, const Provenance& p, bool quick) {
  writer.SetAttribute("/", "command_line", p.command_line);
  writer.SetAttribute("/", "git_revision", p.git_revision);
  writer.SetAttribute("/", "git_dirty", p.git_dirty);
  writer.SetAttribute("/", "blas_threads", static_cast<std::int64_t>(DescribeBlas().threads));
  for (const auto& [name, value] : ArithmeticProvenance()) writer.SetAttribute("/", name, value);
  writer.SetAttribute("/", "start_time", p.start_time);
  writer.SetAttribute("/", "end_time", UtcNow());
  writer.SetAttribute("/", "host", p.host);
  writer.SetAttribute("/", "compiler", p.compiler);
  writer.SetAttribute("/", "build_type", p.build_type);
  writer.SetAttribute("/", "instruction_set", p.instruction_set);
  writer.SetAttribute("/", "library_versions", p.library_versions);
  writer.SetAttribute("/", "quick", quick);
}

}  // namespace hypergrad
