// Linked into every test binary (tests/CMakeLists.txt): loops run on as many threads as a test
// asks for, even beyond the machine's CPUs, which ParallelFor otherwise caps for speed only.
#include "runtime/parallel.h"

namespace {
const bool kThreadsBeyondCpus = (hypergrad::AllowThreadsBeyondCpus(true), true);
}  // namespace
