// Where the experiments find their data: the files the build fetched (build/data/), or the
// folder or file given on the command line.
#ifndef HYPERGRAD_EXPERIMENTS_COMMON_MNIST_SOURCE_H_
#define HYPERGRAD_EXPERIMENTS_COMMON_MNIST_SOURCE_H_

#include <string>

#include "data/mnist.h"

namespace hypergrad::experiments {

// The folder configured at build time.
std::string DefaultMnistDir();

// The Omniglot zip (images_background_small1.zip) fetched by the build.
std::string DefaultOmniglotZip();

// Loads MNIST from `dir`; if the files are not there, the error says where they were looked for
// and how to get them.
MnistData LoadMnistFrom(const std::string& dir);

}  // namespace hypergrad::experiments

#endif  // HYPERGRAD_EXPERIMENTS_COMMON_MNIST_SOURCE_H_
