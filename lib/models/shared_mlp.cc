#include "models/shared_mlp.h"

#include <stdexcept>
#include <xtensor-blas/xblas.hpp>
#include <xtensor/xadapt.hpp>

#include "runtime/parallel.h"

namespace hypergrad {
namespace {

// A row-major rows × cols view of memory we do not own.
auto View(const double* data, std::size_t rows, std::size_t cols) {
  return xt::adapt(const_cast<double*>(data), rows * cols, xt::no_ownership(),
                   std::array<std::size_t, 2>{rows, cols});
}

}  // namespace

SharedMlp::SharedMlp(SharedMlpOptions options, std::vector<std::shared_ptr<const Dataset>> task_data,
                     std::vector<double> sharing)
    : options_(std::move(options)), layout_(options_.layer_sizes), sharing_(std::move(sharing)) {
  const std::size_t tasks = options_.tasks;
  if (tasks == 0 || task_data.size() != tasks) {
    throw std::invalid_argument("SharedMlp: " + std::to_string(task_data.size()) +
                                " data sets for " + std::to_string(tasks) + " tasks");
  }
  const std::size_t layers = layout_.layers().size();
  if (sharing_.size() != layers * tasks * tasks) {
    throw std::invalid_argument("SharedMlp: sharing has " + std::to_string(sharing_.size()) +
                                " values; " + std::to_string(layers) + " layers of " +
                                std::to_string(tasks) + " × " + std::to_string(tasks) + " expected");
  }
  for (auto& data : task_data) {
    task_models_.push_back(std::make_shared<const Mlp>(
        MlpOptions{options_.layer_sizes, {}, false, false}, std::move(data)));
  }
  std::size_t offset = 0;
  for (const auto& layer : layout_.layers()) {
    layer_offsets_.push_back(offset);
    layer_widths_.push_back(layer.in * layer.out + layer.out);
    offset += tasks * layer_widths_.back();
  }
}

std::size_t SharedMlp::num_hyper() const { return sharing_.size(); }

std::string SharedMlp::ParameterName(std::size_t k) const {
  for (std::size_t i = layer_offsets_.size(); i-- > 0;) {
    if (k >= layer_offsets_[i]) {
      const std::size_t row = (k - layer_offsets_[i]) / layer_widths_[i];
      const std::size_t within = (k - layer_offsets_[i]) % layer_widths_[i];
      return "z[layer " + std::to_string(i) + ", task " + std::to_string(row) + "]: " +
             layout_.ParameterName(layout_.layers()[i].weight_offset + within);
    }
  }
  return "z[" + std::to_string(k) + "]";
}

void SharedMlp::Mix(std::size_t layer, std::span<const double> x, std::vector<double>& out) const {
  const std::size_t tasks = options_.tasks, width = LayerWidth(layer);
  out.assign(tasks * width, 0.0);
  auto result = View(out.data(), tasks, width);
  xt::blas::gemm(View(sharing_.data() + layer * tasks * tasks, tasks, tasks),
                 View(x.data() + LayerOffset(layer), tasks, width), result);
}

std::vector<std::vector<double>> SharedMlp::TaskWeights(std::span<const double> z) const {
  const std::size_t tasks = options_.tasks;
  std::vector<std::vector<double>> w(tasks, std::vector<double>(layout_.num_params()));
  std::vector<double> mixed;
  for (std::size_t i = 0; i < layer_widths_.size(); ++i) {
    Mix(i, z, mixed);
    const std::size_t start = layout_.layers()[i].weight_offset, width = LayerWidth(i);
    for (std::size_t t = 0; t < tasks; ++t) {
      std::copy_n(mixed.begin() + static_cast<std::ptrdiff_t>(t * width), width,
                  w[t].begin() + static_cast<std::ptrdiff_t>(start));
    }
  }
  return w;
}

void SharedMlp::PullBack(std::span<const double> z, const std::vector<std::vector<double>>& d_w,
                         std::span<double> d_z, std::span<double> d_sharing) const {
  const std::size_t tasks = options_.tasks;
  std::vector<double> rows;
  for (std::size_t i = 0; i < layer_widths_.size(); ++i) {
    const std::size_t width = LayerWidth(i), start = layout_.layers()[i].weight_offset;
    // D_i: row r is task r's ∂f/∂W_i. Then d Z_i = T_iᵀ·D_i and d T_i = D_i·Z_iᵀ.
    rows.resize(tasks * width);
    for (std::size_t r = 0; r < tasks; ++r) {
      std::copy_n(d_w[r].begin() + static_cast<std::ptrdiff_t>(start), width,
                  rows.begin() + static_cast<std::ptrdiff_t>(r * width));
    }
    const auto d = View(rows.data(), tasks, width);
    auto dz = View(d_z.data() + LayerOffset(i), tasks, width);
    xt::blas::gemm(View(sharing_.data() + i * tasks * tasks, tasks, tasks), d, dz, true, false);
    if (!d_sharing.empty()) {
      auto dt = View(d_sharing.data() + i * tasks * tasks, tasks, tasks);
      xt::blas::gemm(d, View(z.data() + LayerOffset(i), tasks, width), dt, false, true);
    }
  }
}

double SharedMlp::Gradient(std::span<const double> z, const Batch& batch, std::span<double> grad) const {
  std::vector<double> unused;
  return GradientAndHvp(z, batch, {}, grad, unused, {});
}

double SharedMlp::GradientAndHvp(std::span<const double> z, const Batch&, std::span<const double> u,
                                 std::span<double> grad, std::span<double> hvp,
                                 std::span<double> mixed) const {
  const std::size_t tasks = options_.tasks, n = num_params(), per_task = layout_.num_params();
  if (z.size() != n || grad.size() != n || (!u.empty() && (u.size() != n || hvp.size() != n))) {
    throw std::invalid_argument("SharedMlp: vectors must have " + std::to_string(n) + " values");
  }
  if (!mixed.empty() && mixed.size() != num_hyper()) {
    throw std::invalid_argument("SharedMlp: mixed product needs " + std::to_string(num_hyper()) + " values");
  }
  const std::vector<std::vector<double>> w = TaskWeights(z);
  std::vector<std::vector<double>> uw;
  if (!u.empty()) uw = TaskWeights(u);
  std::vector<std::vector<double>> g(tasks, std::vector<double>(per_task)), h;
  if (!u.empty()) h.assign(tasks, std::vector<double>(per_task));
  std::vector<double> losses(tasks);
  ParallelFor(tasks, options_.threads, [&](std::size_t t) {
    const Mlp& model = *task_models_[t];
    Batch all;
    all.rows.resize(model.data().rows);
    for (std::size_t r = 0; r < all.rows.size(); ++r) all.rows[r] = r;
    losses[t] = u.empty() ? model.Gradient(w[t], all, g[t])
                          : model.GradientAndHvp(w[t], all, uw[t], g[t], h[t], {});
  });
  double loss = 0.0;
  for (double l : losses) loss += l;  // fixed order
  // ∇_z = Tᵀ·G (+ 2λz); ∇²_z·u = Tᵀ·H_w·(T u) (+ 2λu); mixed_T = (H_w T u)·Zᵀ + G·Uᵀ.
  PullBack(z, g, grad, {});
  const double l2 = options_.l2;
  for (std::size_t k = 0; k < n; ++k) {
    loss += l2 * z[k] * z[k];
    grad[k] += 2.0 * l2 * z[k];
  }
  if (u.empty()) return loss;
  std::vector<double> from_h(mixed.size()), from_g(mixed.size());
  PullBack(z, h, hvp, from_h);
  for (std::size_t k = 0; k < n; ++k) hvp[k] += 2.0 * l2 * u[k];
  if (!mixed.empty()) {
    std::vector<double> unused(n);
    PullBack(u, g, unused, from_g);
    for (std::size_t i = 0; i < mixed.size(); ++i) mixed[i] = from_h[i] + from_g[i];
  }
  return loss;
}

}  // namespace hypergrad
