// The provenance of a run as JSON, for the tools that print a JSON object (--json) instead of
// writing an HDF5 file: the same fields WriteProvenance stores as attributes (provenance.h).
#ifndef HYPERGRAD_EXPERIMENTS_COMMON_PROVENANCE_JSON_H_
#define HYPERGRAD_EXPERIMENTS_COMMON_PROVENANCE_JSON_H_

#include <nlohmann/json.hpp>

#include "results/provenance.h"

namespace hypergrad::experiments {

// `provenance` (collected at the start of the run), the end time (now), blas_threads and
// ArithmeticProvenance(): what decides the last bits (BLAS, Gemm kernel and variant, glibc's
// tanh and its exp/log build).
nlohmann::ordered_json ProvenanceJson(const Provenance& provenance);

}  // namespace hypergrad::experiments

#endif  // HYPERGRAD_EXPERIMENTS_COMMON_PROVENANCE_JSON_H_
