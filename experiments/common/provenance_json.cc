#include "common/provenance_json.h"

#include "runtime/blas_threads.h"

namespace hypergrad::experiments {

nlohmann::ordered_json ProvenanceJson(const Provenance& provenance) {
  nlohmann::ordered_json out = {{"command_line", provenance.command_line},
                                {"git_revision", provenance.git_revision},
                                {"git_dirty", provenance.git_dirty},
                                {"start_time", provenance.start_time},
                                {"end_time", UtcNow()},
                                {"host", provenance.host},
                                {"compiler", provenance.compiler},
                                {"build_type", provenance.build_type},
                                {"instruction_set", provenance.instruction_set},
                                {"library_versions", provenance.library_versions},
                                {"blas_threads", DescribeBlas().threads}};
  for (const auto& [name, value] : ArithmeticProvenance()) out[name] = value;
  return out;
}

}  // namespace hypergrad::experiments
