// Every result file records which BLAS kernels, which Gemm kernel and which build of glibc's
// tanh made it: the attributes are written, and they follow the kernel set actually in use (a child process
// started with OPENBLAS_CORETYPE=Prescott, which every x86-64 CPU runs, records Prescott).
#include "results/provenance.h"

#include <gtest/gtest.h>

#include <H5Cpp.h>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "runtime/blas_threads.h"
#include "models/gemm.h"
#include "results/h5_writer.h"

namespace hypergrad {
namespace {

namespace fs = std::filesystem;

std::string ReadString(H5::H5File& file, const std::string& name) {
  H5::Attribute a = file.openAttribute(name);
  std::string value;
  a.read(a.getStrType(), value);
  return value;
}

// Writes a result file with the provenance and returns its path.
std::string WriteFile(const std::string& name) {
  const fs::path path = fs::temp_directory_path() / ("provenance_test_" + name + ".h5");
  fs::remove(path);
  char program[] = "provenance_test";
  char* argv[] = {program};
  H5Writer writer(path.string());
  writer.WriteScalar("/x", 1.0);
  WriteProvenance(writer, CollectProvenance(1, argv), /*quick=*/true);
  writer.Commit();
  return path.string();
}

TEST(ProvenanceTest, RecordsTheBlasAndTheTanh) {
  SetBlasThreads(1);
  const std::string path = WriteFile("blas");
  H5::H5File file(path, H5F_ACC_RDONLY);
  const std::string library = ReadString(file, "blas_library");
  const std::string core = ReadString(file, "blas_core");
  const std::string config = ReadString(file, "blas_config");
  EXPECT_EQ(library.rfind("OpenBLAS 0.", 0), 0u) << library;
  EXPECT_EQ(config.rfind(library, 0), 0u) << config;  // the config starts with name and version
  EXPECT_FALSE(core.empty());
  EXPECT_FALSE(ReadString(file, "blas_path").empty());
  std::int64_t threads = 0;
  file.openAttribute("blas_threads").read(H5::PredType::NATIVE_INT64, &threads);
  EXPECT_EQ(threads, 1);
  const std::string tanh = ReadString(file, "tanh_libm");
  EXPECT_EQ(tanh.rfind("glibc 2.", 0), 0u) << tanh;
  const char* expected_core = std::getenv("HYPERGRAD_TEST_BLAS_CORE");
  if (expected_core != nullptr) {
    // OpenBLAS spells core names in its own case ("Prescott", "Haswell").
    std::string lower = core;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(lower, expected_core);
  }
  file.close();
  fs::remove(path);
}

// The Gemm kernel as it is when the file is written: OpenBLAS with its version and core, or the
// portable kernel with the variant that ran.
TEST(ProvenanceTest, RecordsTheGemmKernel) {
  for (GemmKernel kernel : {GemmKernel::kOpenBlas, GemmKernel::kPortable}) {
    SetGemmKernel(kernel);
    const std::string path = WriteFile("gemm");
    SetGemmKernel(GemmKernel::kPortable);  // the default
    H5::H5File file(path, H5F_ACC_RDONLY);
    const std::string name = ReadString(file, "gemm_kernel"), detail = ReadString(file, "gemm_kernel_detail");
    if (kernel == GemmKernel::kOpenBlas) {
      EXPECT_EQ(name, "openblas");
      EXPECT_EQ(detail.rfind("openblas (" + ReadString(file, "blas_library"), 0), 0u) << detail;
      EXPECT_NE(detail.find("core " + ReadString(file, "blas_core")), std::string::npos) << detail;
    } else {
      EXPECT_EQ(name, "portable");
      EXPECT_EQ(detail.rfind("portable (", 0), 0u) << detail;
      EXPECT_NE(detail.find(" variant; sums in increasing k"), std::string::npos) << detail;
    }
    file.close();
    fs::remove(path);
  }
}

TEST(ProvenanceTest, RecordsTheKernelSetChosenForTheProcess) {
  if (std::getenv("HYPERGRAD_TEST_BLAS_CORE") != nullptr) GTEST_SKIP() << "in the child";
  const std::string command =
      "OPENBLAS_CORETYPE=Prescott HYPERGRAD_TEST_BLAS_CORE=prescott '" +
      fs::read_symlink("/proc/self/exe").string() +
      "' --gtest_filter=ProvenanceTest.RecordsTheBlasAndTheTanh > /dev/null";
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
}

// libm_build follows the build of exp and log glibc actually picked: "fma" on a CPU with FMA and
// AVX2 (glibc's choice, unless GLIBC_TUNABLES hides them), "other" in a child started with
// GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2,-FMA, which makes glibc load its SSE2 builds.
TEST(ProvenanceTest, RecordsGlibcsBuildOfExpAndLog) {
  const char* expected = std::getenv("HYPERGRAD_TEST_LIBM_BUILD");
  const std::string path = WriteFile("libm");
  H5::H5File file(path, H5F_ACC_RDONLY);
  const std::string build = ReadString(file, "libm_build");
  file.close();
  fs::remove(path);
  EXPECT_EQ(build.rfind(LibmBuild() + " (", 0), 0u) << build;
  if (expected != nullptr) {
    EXPECT_EQ(LibmBuild(), expected);
    return;
  }
  if (std::getenv("GLIBC_TUNABLES") == nullptr && __builtin_cpu_supports("fma") &&
      __builtin_cpu_supports("avx2")) {
    EXPECT_EQ(LibmBuild(), "fma");
  }
  const std::string command =
      "GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2,-FMA HYPERGRAD_TEST_LIBM_BUILD=other '" +
      fs::read_symlink("/proc/self/exe").string() +
      "' --gtest_filter=ProvenanceTest.RecordsGlibcsBuildOfExpAndLog > /dev/null";
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
}

}  // namespace
}  // namespace hypergrad
