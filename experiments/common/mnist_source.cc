#include "common/mnist_source.h"

#include <filesystem>
#include <stdexcept>

#ifndef HYPERGRAD_MNIST_DIR
#define HYPERGRAD_MNIST_DIR "data/mnist"
#endif

namespace hypergrad::experiments {

#ifndef HYPERGRAD_OMNIGLOT_ZIP
#define HYPERGRAD_OMNIGLOT_ZIP "data/omniglot/images_background_small1.zip"
#endif

std::string DefaultMnistDir() { return HYPERGRAD_MNIST_DIR; }

std::string DefaultOmniglotZip() { return HYPERGRAD_OMNIGLOT_ZIP; }

MnistData LoadMnistFrom(const std::string& dir) {
  for (const char* name : kMnistFiles) {
    if (!std::filesystem::exists(std::filesystem::path(dir) / name)) {
      throw std::runtime_error("MNIST file " + std::string(name) + " not found in " + dir +
                               " (build the 'mnist_data' target, e.g. `make data`, or pass "
                               "--mnist-dir with a folder holding the four raw idx files)");
    }
  }
  return LoadMnist(dir);
}

}  // namespace hypergrad::experiments
