// The hidden layers' tanh, two ways. Exact reversal needs only that every evaluation of the same
// input gives the same bits (in one build); both kernels are pure functions of each element.
//   kLibm:       glibc's scalar tanh (≈ 10–15 ns per element here), what the authors' numpy
//                calls: the default, and every committed result.
//   kPolynomial: our own, written so that GCC vectorises it for plain x86-64 (SSE2, two lanes;
//                ≈ 4 ns per element): tanh|x| = t/(t + 2) with t = expm1(2|x|), expm1 from
//                2^k·(expm1(r) + 1) − 1, |r| ≤ ln2/2, Cody–Waite reduction and the Taylor series
//                to degree 13 (truncation < 2·10^-17 relative). Error against glibc at most
//                4 ulp, measured over 4·10^6 points (tanh_kernel_test checks 4 ulp); exact at
//                ±0, ±1 beyond |x| ≈ 19.1, NaN in → NaN out. Only IEEE-754 +, −, ×, ÷ and bit
//                operations, no FMA (-ffp-contract=off): the same bits on every x86-64 machine
//                and at any position in an array.
#ifndef HYPERGRAD_TANH_KERNEL_H_
#define HYPERGRAD_TANH_KERNEL_H_

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

}  // namespace hypergrad

#endif  // HYPERGRAD_TANH_KERNEL_H_
