#!/bin/bash
# Issue [O] item 6: generic names for what every optimizer shares, optimizer names for what one
# optimizer owns. C++ identifiers and file-internal names only: HDF5 dataset names, JSON keys,
# tool flags and the Python API (momentum_ratio, hypergradients, ...) keep their names.
# Idempotent (every pattern matches only the old name), so it can be run again after merging a
# branch that still uses the old names:   bash ci/renames.sh   (from anywhere in the repository)
#
#   MomentumRatio            → DecayRatio        the n/d of any decay (γ; β1, β2; ρ, μ), rational.h
#   MomentumToRatio…         → DecayToRatio…     the rule that makes it (and its test's name)
#   ScheduleHyperparameters  → SgdScheduleHyperparameters   log α, logit γ, log s: SGD's (hyperparams.h)
#   HypergradProblem         → SgdHypergradProblem           tests/support: an SGD problem (SgdSchedule, v_0)
#   ExpectHypergradMatchesFiniteDifferences → ExpectSgdHypergradMatchesFiniteDifferences (takes it)
#   ComputeHypergradients    → ComputeSgdHypergradients      the Python module's SGD entry (its C++ name;
#                              the Python name stays hypergradients)
#   ExactMomentumTest        → Algorithm3Test    the fixture of algorithm3_test.cc (the file's old name)
#   max_v0_error             → max_u0_error      ReversalCheck: the error of all the moments u_0
#   lib/trajectories: v → u (v_, v0_, v0, v_values(_), v_scratch_, FixedPointState::v,
#                     velocities_ → moments_): the trajectories hold every optimizer's moments u.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"

files() { git ls-files -- "$@" | grep -v '^ci/renames.sh$' || true; }
# sed -i only on the files that contain the pattern (keeps timestamps of the others).
apply() {  # apply PATTERN SED_SCRIPT FILES...
  local pattern=$1 script=$2; shift 2
  local f
  for f in "$@"; do
    if grep -qE -- "$pattern" "$f"; then sed -i -E "$script" "$f"; fi
  done
}

mapfile -t src < <(files '*.cc' '*.h' '*.cpp' '*.md' '*.txt' '*.py' '*.sh' '*.cmake' '*.in')

apply 'MomentumRatio' 's/\bMomentumRatio\b/DecayRatio/g' "${src[@]}"
apply 'MomentumToRatio' 's/\bMomentumToRatio/DecayToRatio/g' "${src[@]}"
apply '\bScheduleHyperparameters\b' 's/\bScheduleHyperparameters\b/SgdScheduleHyperparameters/g' "${src[@]}"
apply '\bHypergradProblem\b' 's/\bHypergradProblem\b/SgdHypergradProblem/g' "${src[@]}"
apply '\bExpectHypergradMatchesFiniteDifferences\b' \
  's/\bExpectHypergradMatchesFiniteDifferences\b/ExpectSgdHypergradMatchesFiniteDifferences/g' "${src[@]}"
# Only the Python module's: tests/support's ComputeHypergradients(optimizer, ...) serves every optimizer.
apply '\bComputeHypergradients\b' 's/\bComputeHypergradients\b/ComputeSgdHypergradients/g' \
  lib/python/hypergrad_module.cc
apply '\bExactMomentumTest\b' 's/\bExactMomentumTest\b/Algorithm3Test/g' "${src[@]}"
apply '\bmax_v0_error\b' 's/\bmax_v0_error\b/max_u0_error/g' "${src[@]}"

# The trajectories: "v" there always meant all of the moments u.
mapfile -t traj < <(files 'lib/trajectories/*.h' 'lib/trajectories/*.cc')
apply 'Below, "v" stands for all of u\. ' 's/ Below, "v" stands for all of u\.//' "${traj[@]}"
apply '\(K·P values, called v$' 's/\(K·P values, called v$/(K·P values)/' "${traj[@]}"
apply '^// here\) with Algorithm 3' 's|^// here\) with Algorithm 3|// with Algorithm 3|' "${traj[@]}"
apply 'velocities_;     // v_t for t < current' \
  's|velocities_;     // v_t for t < current|moments_;        // u_t for t < current|' "${traj[@]}"
apply 'the velocity view stays' "s/the velocity view stays v_/the moments' view stays u_/g" "${traj[@]}"
apply '\bv(0|_|0_|_values|_values_|_scratch_)?\b|\bvelocities_\b' \
  's/\bv_values_\b/u_values_/g; s/\bv_values\b/u_values/g; s/\bv_scratch_\b/u_scratch_/g;
   s/\bv0_\b/u0_/g; s/\bv_\b/u_/g; s/\bv0\b/u0/g; s/\bv\b/u/g; s/\bvelocities_\b/moments_/g' \
  "${traj[@]}"
