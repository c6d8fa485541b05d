#include "arithmetic/rational.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace hypergrad {

DecayRatio DecayToRatio(double gamma) {
  if (!(gamma > 0.0 && gamma < 65535.0)) {
    std::ostringstream out;
    out.precision(17);
    out << "momentum decay gamma = " << gamma << " is outside (0, 65535)";
    throw std::invalid_argument(out.str());
  }
  const double d = std::floor(65536.0 / std::floor(gamma + 1.0));
  const double n = std::trunc(gamma * d + 1.0);
  return {static_cast<std::uint32_t>(n), static_cast<std::uint32_t>(d)};
}

void CheckDecay(double decay, const std::string& what) {
  if (!(decay >= kMinDecay && decay <= kMaxDecay)) {
    std::ostringstream out;
    out << what << " = ";
    out.precision(17);
    out << decay;
    out.precision(6);  // the bounds as the tools' --help prints them
    out << " is outside [" << kMinDecay << ", " << kMaxDecay << "]";
    throw std::invalid_argument(out.str());
  }
}

}  // namespace hypergrad
