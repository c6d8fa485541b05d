// The hidden layers' tanh, two ways. Exact reversal needs only that every evaluation of the same
// input gives the same bits (in one build); both kernels are pure functions of each element.
//   kLibm:       glibc's tanh, what the authors' numpy calls: the default, and every committed
//                result. Computed by a branch-free vectorised port of glibc's own operations
//                (GlibcTanhInPlace below), which returns the system tanh's bits at every input.
//   kPolynomial: our own, written so that GCC vectorises it for plain x86-64 (SSE2, two lanes;
//                ≈ 4 ns per element): tanh|x| = t/(t + 2) with t = expm1(2|x|), expm1 from
//                2^k·(expm1(r) + 1) − 1, |r| ≤ ln2/2, Cody–Waite reduction and the Taylor series
//                to degree 13 (truncation < 2·10^-17 relative). Error against glibc at most
//                4 ulp, measured over 4·10^6 points (tanh_kernel_test checks 4 ulp); exact at
//                ±0, ±1 beyond |x| ≈ 19.1, NaN in → NaN out. Only IEEE-754 +, −, ×, ÷ and bit
//                operations, no FMA (-ffp-contract=off): the same bits on every x86-64 machine
//                and at any position in an array.
#ifndef HYPERGRAD_MODELS_TANH_KERNEL_H_
#define HYPERGRAD_MODELS_TANH_KERNEL_H_

#include <span>
#include <string>
#include <string_view>

namespace hypergrad {

enum class TanhKernel { kLibm, kPolynomial };

std::string_view TanhKernelName(TanhKernel kernel);  // "libm", "polynomial"
// The kernel named `name`; std::invalid_argument listing the names otherwise.
TanhKernel ParseTanhKernel(std::string_view name);

// x_i ← tanh(x_i) for every element, by `kernel`.
void TanhInPlace(std::span<double> x, TanhKernel kernel);

// glibc's double tanh (fdlibm's: tanh from expm1) exists in two builds on x86-64, because
// glibc picks expm1 at load time (an IFUNC, sysdeps/x86_64/fpu/multiarch/s_expm1.c): a build
// compiled with -mfma -mavx2, whose multiply-adds round once, on CPUs with FMA and AVX2, and the
// SSE2 build elsewhere (or when GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2,-FMA). tanh's own code
// has one build. The two differ by 1–3 ulp at about 1 input in 2,600 with |x| < 4 (measured,
// Debian's glibc 2.36), so glibc's tanh, and every result using it, depends on the CPU.
//   kFma, kSse2: our branch-free ports of the two builds (needs FMA and AVX2 for kFma);
//   kSystem:     the system's tanh, called per element.
enum class GlibcTanhVariant { kFma, kSse2, kSystem };

std::string_view GlibcTanhVariantName(GlibcTanhVariant variant);  // "fma", "sse2", "system"

// The variant TanhInPlace(·, kLibm) uses in this process, chosen once: kFma where the CPU has
// FMA and AVX2 and the port equals the system's tanh bit for bit at probe inputs (every branch,
// and inputs where the builds differ), else kSse2 if that one does, else kSystem. So kLibm
// always gives the system tanh's bits; a glibc other than 2.36's algorithm falls to kSystem.
GlibcTanhVariant ActiveGlibcTanhVariant();

// x_i ← glibc's tanh(x_i) by `variant`; std::runtime_error for kFma on a CPU without FMA/AVX2.
void GlibcTanhInPlace(std::span<double> x, GlibcTanhVariant variant);

// The instruction sets the port of glibc's SSE2 build is compiled for: the same IEEE operations
// in the same order and no FMA in any, so the same bits; wider vectors and blends are faster.
enum class VectorIsa { kSse2, kSse41, kAvx2 };

std::string_view VectorIsaName(VectorIsa isa);  // "sse2", "sse4.1", "avx2"

// The widest of them this CPU runs; GlibcTanhInPlace(·, kSse2) uses it.
VectorIsa BestVectorIsa();

// x_i ← glibc's tanh(x_i) by the port of glibc's SSE2 build compiled for `isa`;
// std::runtime_error where this CPU lacks `isa`.
void GlibcTanhSse2BuildInPlace(std::span<double> x, VectorIsa isa);

// x_i ← glibc's tanh(x_i) by the port of glibc's FMA build on 4 lanes (AVX2) or, with `avx512`,
// 8 (GlibcTanhInPlace picks 8 where the CPU runs AVX-512F/DQ/VL); std::runtime_error where this
// CPU lacks FMA and AVX2, or AVX-512 when asked for.
void GlibcTanhFmaBuildInPlace(std::span<double> x, bool avx512);

}  // namespace hypergrad

#endif  // HYPERGRAD_MODELS_TANH_KERNEL_H_
