#include "models/gemm_trace.h"

#include <chrono>
#include <map>
#include <stdexcept>
#include <tuple>
#include <xtensor/xtensor.hpp>

#include "models/gemm.h"

namespace hypergrad {
namespace {

thread_local GemmTrace* g_trace = nullptr;

}  // namespace

GemmTrace::GemmTrace() {
  if (g_trace != nullptr) throw std::logic_error("GemmTrace: one trace at a time per thread");
  g_trace = this;
}

GemmTrace::~GemmTrace() { g_trace = nullptr; }

double GemmTrace::Flops() const {
  double flops = 0.0;
  for (const GemmShape& s : shapes_) flops += s.Flops();
  return flops;
}

void GemmTrace::Record(const GemmShape& shape) {
  if (g_trace != nullptr) g_trace->shapes_.push_back(shape);
}

bool GemmTrace::Active() { return g_trace != nullptr; }

double ReplayGemms(const std::vector<GemmShape>& shapes, std::size_t repeats) {
  using Matrix = xt::xtensor<double, 2>;
  struct Operands {
    Matrix a, b, c;
  };
  // One set of operands per distinct shape, made once.
  std::map<std::tuple<std::size_t, std::size_t, std::size_t, bool, bool>, Operands> operands;
  std::vector<Operands*> plan;
  for (const GemmShape& s : shapes) {
    auto key = std::make_tuple(s.m, s.n, s.k, s.transpose_a, s.transpose_b);
    auto [it, fresh] = operands.try_emplace(key);
    if (fresh) {
      it->second.a = s.transpose_a ? Matrix::from_shape({s.k, s.m}) : Matrix::from_shape({s.m, s.k});
      it->second.b = s.transpose_b ? Matrix::from_shape({s.n, s.k}) : Matrix::from_shape({s.k, s.n});
      it->second.c = Matrix::from_shape({s.m, s.n});
      it->second.a.fill(0.5);
      it->second.b.fill(0.25);
      it->second.c.fill(0.0);
    }
    plan.push_back(&it->second);
  }
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t r = 0; r < repeats; ++r) {
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      Operands& o = *plan[i];
      const GemmShape& s = shapes[i];
      Gemm({o.a.data(), o.a.shape(0), o.a.shape(1), o.a.shape(1)}, s.transpose_a,
           {o.b.data(), o.b.shape(0), o.b.shape(1), o.b.shape(1)}, s.transpose_b,
           {o.c.data(), o.c.shape(0), o.c.shape(1), o.c.shape(1)}, s.accumulate ? 1.0 : 0.0);
    }
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace hypergrad
