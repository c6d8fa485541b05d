// Several task networks of one architecture whose parameters are shared through learned mixing
// matrices (the Omniglot experiment, Figs 8–9; the authors' experiments/Feb_4_augmented_omniglot/
// 2_rotated_90/experiment.py). The trained parameters are latent vectors z: for each layer i, the
// tasks' slices of that layer (W_i then b_i, n_i values each) form the rows of Z_i (tasks × n_i),
// and task t uses row t of W_i = T_i·Z_i. The mixing matrices T_i (tasks × tasks) are the
// hyperparameters θ.
//
// Loss: Σ_tasks (mean NLL of the task's network on its whole training set) + λ‖z‖². The
// mixed product is ∇_T⟨∇_z L, u⟩ = (H_w·(T u))·Zᵀ + G_w·Uᵀ per layer, from one gradient and
// Hessian-vector pass per task; tasks run in parallel and are summed in a fixed order, so
// results are bit-identical on every call.
#ifndef HYPERGRAD_MODELS_SHARED_MLP_H_
#define HYPERGRAD_MODELS_SHARED_MLP_H_

#include <memory>
#include <vector>

#include "models/mlp.h"

namespace hypergrad {

struct SharedMlpOptions {
  std::vector<std::size_t> layer_sizes;  // each task's network, e.g. {784, 400, 200, 55}
  std::size_t tasks = 1;
  double l2 = 0.0;       // λ on z
  unsigned threads = 1;  // tasks computed in parallel
};

class SharedMlp final : public Model {
 public:
  // `task_data[t]` is task t's training set (its whole set is used every iteration: batches are
  // ignored). `sharing` holds the T_i, layer by layer, each tasks × tasks row-major.
  // Throws std::invalid_argument on mismatched sizes.
  SharedMlp(SharedMlpOptions options, std::vector<std::shared_ptr<const Dataset>> task_data,
            std::vector<double> sharing);

  std::size_t num_params() const override { return options_.tasks * layout_.num_params(); }
  std::size_t num_hyper() const override;
  std::string ParameterName(std::size_t k) const override;
  double Gradient(std::span<const double> z, const Batch& batch,
                  std::span<double> grad) const override;
  double GradientAndHvp(std::span<const double> z, const Batch& batch, std::span<const double> u,
                        std::span<double> grad, std::span<double> hvp,
                        std::span<double> mixed) const override;

  // Each task's parameter vector (the per-task MLP layout) for latent z: w = T·z per layer.
  std::vector<std::vector<double>> TaskWeights(std::span<const double> z) const;
  // Given ∂f/∂w for each task (per-task layout), the pull-back to ∂f/∂z (written to d_z) and
  // the direct ∂f/∂T (written to d_sharing, layers × tasks × tasks).
  void PullBack(std::span<const double> z, const std::vector<std::vector<double>>& d_w,
                std::span<double> d_z, std::span<double> d_sharing) const;

  const MlpLayout& task_layout() const { return layout_; }
  const Mlp& task_model(std::size_t t) const { return *task_models_[t]; }
  std::size_t tasks() const { return options_.tasks; }

 private:
  // Offset of layer i's Z_i in z, and its row length n_i.
  std::size_t LayerOffset(std::size_t i) const { return layer_offsets_[i]; }
  std::size_t LayerWidth(std::size_t i) const { return layer_widths_[i]; }
  // M = T_i · X_i for a tasks × n_i block of a z-shaped vector.
  void Mix(std::size_t layer, std::span<const double> x, std::vector<double>& out) const;

  SharedMlpOptions options_;
  MlpLayout layout_;
  std::vector<std::shared_ptr<const Mlp>> task_models_;
  std::vector<double> sharing_;
  std::vector<std::size_t> layer_offsets_, layer_widths_;
};

}  // namespace hypergrad

#endif  // HYPERGRAD_MODELS_SHARED_MLP_H_
