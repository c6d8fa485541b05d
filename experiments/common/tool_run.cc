#include "common/tool_run.h"

#include <utility>

#include "common/cli_checks.h"

namespace hypergrad::experiments {

void CheckRunFitsInMemory(const std::string& model_name, const ToolModel& model) {
  const std::size_t n = model.model->num_params();
  CheckFitsInMemory(16.0 * 8.0 * static_cast<double>(n), "--model " + model_name + " " +
                                                             model.description + ": " +
                                                             std::to_string(n) + " parameters");
}

ToolRun TrainAndReverseWithFlags(const OptimizerInfo& optimizer,
                                 const std::map<std::string, double>& settings,
                                 const ToolModel& model, const ParameterBlocks& blocks,
                                 BatchSchedule batches, std::size_t iters, double alpha,
                                 const std::vector<double>& w0, TrainingOptions training,
                                 Progress& forward, Progress& reverse) {
  ToolRun r;
  r.run = optimizer.make(model.model, blocks, std::move(batches),
                         optimizer.Constant(iters, blocks.num_blocks(), alpha, settings),
                         std::move(training));
  const std::vector<double> u0(r.run->optimizer().num_moments() * w0.size(), 0.0);
  const Objective loss{[&](std::span<const double> w, std::span<double> d_w, std::span<double>) {
    return model.objective(w, d_w);
  }};
  r.outcome = TrainAndReverse(*r.run, w0, u0, loss,
                              {.after_train = [&] { forward.Finish(); reverse.Restart(); },
                               .after_reverse = [&] { reverse.Finish(); }});
  return r;
}

}  // namespace hypergrad::experiments
