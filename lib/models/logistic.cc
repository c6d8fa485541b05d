#include "models/logistic.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <stdexcept>

namespace hypergrad {
namespace {

void CheckSpan(const char* what, std::size_t got, std::size_t expected) {
  if (got != expected) {
    throw std::invalid_argument(std::string("Logistic: ") + what + " has " + std::to_string(got) +
                                " values, expected " + std::to_string(expected));
  }
}

}  // namespace

Logistic::Logistic(LogisticOptions options, std::shared_ptr<const Dataset> data)
    : options_(std::move(options)), data_(std::move(data)) {
  if (!data_) throw std::invalid_argument("Logistic: no training data");
  data_->Validate();
  if (data_->input_dim == 0 || data_->classes == 0 || data_->rows == 0) {
    throw std::invalid_argument("Logistic: the data need at least one row, input and class");
  }
  inputs_ = data_->input_dim;
  classes_ = data_->classes;
  const std::size_t l2 = options_.l2.size();
  if (l2 != 0 && l2 != 1 && l2 != classes_) {
    throw std::invalid_argument("Logistic: l2 has " + std::to_string(l2) +
                                " values; expected 0, 1 or one per class (" +
                                std::to_string(classes_) + ")");
  }
  for (const double lambda : options_.l2) {
    if (!(std::isfinite(lambda) && lambda >= 0.0)) {
      throw std::invalid_argument("Logistic: l2 penalty " + std::to_string(lambda) +
                                  " is not a finite number ≥ 0");
    }
  }
  if (options_.hyper_l2 && l2 == 0) {
    throw std::invalid_argument("Logistic: hyper_l2 needs an l2 penalty to differentiate");
  }
}

std::string Logistic::ParameterName(std::size_t k) const {
  const std::size_t weights = inputs_ * classes_;
  if (k < weights) {
    return "W[" + std::to_string(k / classes_) + "," + std::to_string(k % classes_) + "]";
  }
  return "b[" + std::to_string(k - weights) + "]";
}

ParameterBlocks Logistic::Blocks() const {
  ParameterBlocks blocks;
  blocks.block_of.assign(num_params(), 0);
  std::fill(blocks.block_of.begin() + static_cast<std::ptrdiff_t>(inputs_ * classes_),
            blocks.block_of.end(), 1);
  blocks.names = {"W", "b"};
  return blocks;
}

double Logistic::Pass(std::span<const double> w, const Dataset& data, const std::size_t* rows,
                      std::size_t count, bool penalty, std::span<const double> u,
                      std::span<double> grad, std::span<double> hvp,
                      std::span<double> mixed) const {
  const std::size_t D = inputs_, C = classes_, bias = D * C;
  const bool second = !u.empty();
  std::fill(grad.begin(), grad.end(), 0.0);
  std::fill(hvp.begin(), hvp.end(), 0.0);
  std::fill(mixed.begin(), mixed.end(), 0.0);
  std::vector<double> x(D), z(C), p(C), zdot(C);
  const double scale = 1.0 / static_cast<double>(count);
  double loss = 0.0;
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t r = rows == nullptr ? i : rows[i];
    if (r >= data.rows) {
      throw std::invalid_argument("Logistic: batch row " + std::to_string(r) + " beyond the " +
                                  std::to_string(data.rows) + " rows of the data");
    }
    data.CopyInputRow(r, x.data());
    const double* t = data.targets.data() + r * C;
    // z = x·W + b and, for the R-operator, ż = x·U + u_b.
    for (std::size_t c = 0; c < C; ++c) z[c] = w[bias + c];
    if (second) for (std::size_t c = 0; c < C; ++c) zdot[c] = u[bias + c];
    for (std::size_t d = 0; d < D; ++d) {
      const double* row = w.data() + d * C;
      for (std::size_t c = 0; c < C; ++c) z[c] += x[d] * row[c];
      if (second) {
        const double* urow = u.data() + d * C;
        for (std::size_t c = 0; c < C; ++c) zdot[c] += x[d] * urow[c];
      }
    }
    // log Σ exp z, shifted by the largest z so that no exp overflows.
    const double top = *std::max_element(z.begin(), z.end());
    double sum = 0.0;
    for (std::size_t c = 0; c < C; ++c) sum += std::exp(z[c] - top);
    const double log_sum = top + std::log(sum);
    double target_z = 0.0, p_zdot = 0.0;
    for (std::size_t c = 0; c < C; ++c) {
      p[c] = std::exp(z[c] - log_sum);
      target_z += t[c] * z[c];
      if (second) p_zdot += p[c] * zdot[c];
    }
    loss += log_sum - target_z;
    // ∂/∂z of −log p_target = p − t; its R-derivative ṗ = p ⊙ (ż − ⟨p, ż⟩).
    for (std::size_t c = 0; c < C; ++c) {
      const double g = (p[c] - t[c]) * scale;
      grad[bias + c] += g;
      z[c] = g;  // reused: the row's gradient at the logits
      if (second) {
        zdot[c] = p[c] * (zdot[c] - p_zdot) * scale;
        hvp[bias + c] += zdot[c];
      }
    }
    for (std::size_t d = 0; d < D; ++d) {
      double* grow = grad.data() + d * C;
      for (std::size_t c = 0; c < C; ++c) grow[c] += x[d] * z[c];
      if (second) {
        double* hrow = hvp.data() + d * C;
        for (std::size_t c = 0; c < C; ++c) hrow[c] += x[d] * zdot[c];
      }
    }
  }
  loss *= scale;
  if (penalty && !options_.l2.empty()) {
    const bool per_class = options_.l2.size() == C;
    for (std::size_t d = 0; d < D; ++d) {
      for (std::size_t c = 0; c < C; ++c) {
        const std::size_t k = d * C + c, j = per_class ? c : 0;
        const double lambda = options_.l2[j];
        loss += lambda * w[k] * w[k];
        grad[k] += 2.0 * lambda * w[k];
        if (second) {
          hvp[k] += 2.0 * lambda * u[k];
          if (!mixed.empty()) mixed[j] += 2.0 * w[k] * u[k];
        }
      }
    }
  }
  return loss;
}

double Logistic::Gradient(std::span<const double> w, const Batch& batch,
                          std::span<double> grad) const {
  CheckSpan("w", w.size(), num_params());
  CheckSpan("gradient", grad.size(), num_params());
  if (batch.rows.empty()) throw std::invalid_argument("Logistic: empty batch");
  return Pass(w, *data_, batch.rows.data(), batch.rows.size(), true, {}, grad, {}, {});
}

double Logistic::GradientAndHvp(std::span<const double> w, const Batch& batch,
                                std::span<const double> u, std::span<double> grad,
                                std::span<double> hvp, std::span<double> mixed) const {
  CheckSpan("w", w.size(), num_params());
  CheckSpan("u", u.size(), num_params());
  CheckSpan("gradient", grad.size(), num_params());
  CheckSpan("Hessian-vector product", hvp.size(), num_params());
  if (!mixed.empty()) CheckSpan("mixed product", mixed.size(), num_hyper());
  if (batch.rows.empty()) throw std::invalid_argument("Logistic: empty batch");
  return Pass(w, *data_, batch.rows.data(), batch.rows.size(), true, u, grad, hvp, mixed);
}

double Logistic::Evaluate(std::span<const double> w, const Dataset& data,
                          std::span<double> grad) const {
  CheckSpan("w", w.size(), num_params());
  if (!grad.empty()) CheckSpan("gradient", grad.size(), num_params());
  if (data.input_dim != inputs_ || data.classes != classes_ || data.rows == 0) {
    throw std::invalid_argument("Logistic::Evaluate: the data set does not match the model");
  }
  std::vector<double> scratch;
  if (grad.empty()) scratch.resize(num_params());
  return Pass(w, data, nullptr, data.rows, false, {}, grad.empty() ? std::span<double>(scratch) : grad,
              {}, {});
}

ModelInfo LogisticModelInfo() {
  ModelFlag l2{"l2", "0", "L2 penalty λ on every weight (not the biases)", {}};
  l2.check = [](const std::string& text) -> std::string {
    char* end = nullptr;
    const double x = text.empty() ? NAN : std::strtod(text.c_str(), &end);
    if (text.empty() || end == nullptr || *end != '\0' || !std::isfinite(x) || x < 0.0) {
      return "expected a finite number ≥ 0, got '" + text + "'";
    }
    return {};
  };
  ModelInfo info{"logistic", "multinomial logistic (softmax) regression, L2 on the weights",
                 {l2}, {}, {}};
  info.shape = [](const std::map<std::string, std::string>&) -> std::optional<DataShape> {
    return std::nullopt;  // fits any inputs and classes
  };
  info.make = [](std::shared_ptr<const Dataset> data, const ModelSettings& settings) {
    const double lambda = std::strtod(settings.flags.at("l2").c_str(), nullptr);
    LogisticOptions options;
    if (lambda != 0.0) options.l2 = {lambda};
    auto model = std::make_shared<const Logistic>(options, std::move(data));
    ToolModel tool;
    tool.model = model;
    tool.objective = [model](std::span<const double> w, std::span<double> d_w) {
      return model->Evaluate(w, model->data(), d_w);
    };
    tool.blocks = [model] { return model->Blocks(); };
    tool.fan_in = {model->data().input_dim, model->data().input_dim};
    tool.description = "[" + std::to_string(model->data().input_dim) + "," +
                       std::to_string(model->data().classes) + "]";
    tool.objective_text =
        "mean cross-entropy (negative log-likelihood) of the softmax regression over all " +
        std::to_string(model->data().rows) + " training rows at w_T, without the --l2 penalty";
    return tool;
  };
  return info;
}

}  // namespace hypergrad
