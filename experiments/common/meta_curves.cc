#include "common/meta_curves.h"

#include <stdexcept>

namespace hypergrad::experiments {

MetaCurves RunLosses::Curves() const {
  MetaCurves curves;
  curves.train_loss = train_loss;
  curves.valid_loss = valid_loss;
  curves.test_loss = test_loss;
  curves.test_error = test_error;
  return curves;
}

void WriteMetaCurves(H5Writer& w, const MetaCurves& curves) {
  if (!curves.train_loss_meaning.empty() && !curves.train_loss) {
    throw std::invalid_argument("WriteMetaCurves: a meaning for /meta/train_loss, which is not set");
  }
  for (const MetaRecord& r : curves.more) {
    if (r.name.empty()) throw std::invalid_argument("WriteMetaCurves: a record without a name");
  }
  const auto write = [&w](const char* name, const std::optional<std::span<const double>>& curve) {
    if (curve) w.Write(std::string("/meta/") + name, *curve);
  };
  write("train_loss", curves.train_loss);
  write("valid_loss", curves.valid_loss);
  write("test_loss", curves.test_loss);
  write("test_error", curves.test_error);
  write("hypergradient_norm", curves.hypergradient_norm);
  if (curves.reversal_exact) w.WriteInts("/meta/reversal_exact", *curves.reversal_exact);
  if (!curves.train_loss_meaning.empty()) {
    w.SetAttribute("/meta/train_loss", "meaning", curves.train_loss_meaning);
  }
  for (const MetaRecord& r : curves.more) {
    w.Write("/meta/" + r.name, r.values, r.shape);
    if (!r.meaning.empty()) w.SetAttribute("/meta/" + r.name, "meaning", r.meaning);
  }
}

}  // namespace hypergrad::experiments
