// The run hypergrad and reversal_check share: the registry's optimizer (optimizers/registry.h)
// with the flags' values constant over steps and blocks, trained from w_0 and zero moments, the
// registry's model (models/registry.h) and its objective (the mean training NLL on all rows at
// w_T), then the reverse pass, with progress lines for both passes.
#ifndef HYPERGRAD_EXPERIMENTS_COMMON_TOOL_RUN_H_
#define HYPERGRAD_EXPERIMENTS_COMMON_TOOL_RUN_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/progress.h"
#include "models/registry.h"
#include "optimizers/registry.h"
#include "optimizers/reversible_training.h"

namespace hypergrad::experiments {

struct ToolRun {
  std::unique_ptr<ReversibleTraining> run;  // after its reverse pass
  RunOutcome outcome;
};

// Throws std::invalid_argument naming the model, its shape and parameter count if a run of
// `model` needs more memory than the machine has (CheckFitsInMemory): w, v, g, the adjoints and
// work vectors, about 16 doubles per parameter.
void CheckRunFitsInMemory(const std::string& model_name, const ToolModel& model);

// Throws what the optimizer's constructor and the run throw (bad values, divergence).
ToolRun TrainAndReverseWithFlags(const OptimizerInfo& optimizer,
                                 const std::map<std::string, double>& settings,
                                 const ToolModel& model, const ParameterBlocks& blocks,
                                 BatchSchedule batches, std::size_t iters, double alpha,
                                 const std::vector<double>& w0, TrainingOptions training,
                                 Progress& forward, Progress& reverse);

}  // namespace hypergrad::experiments

#endif  // HYPERGRAD_EXPERIMENTS_COMMON_TOOL_RUN_H_
