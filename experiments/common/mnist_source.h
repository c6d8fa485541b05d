// Where the experiments find MNIST: the folder the build fetched the four idx files into
// (build/data/mnist), or --mnist-dir.
#ifndef HYPERGRAD_EXPERIMENTS_COMMON_MNIST_SOURCE_H_
#define HYPERGRAD_EXPERIMENTS_COMMON_MNIST_SOURCE_H_

#include <string>

#include "data/mnist.h"

namespace hypergrad::experiments {

// The folder configured at build time.
std::string DefaultMnistDir();

// Loads MNIST from `dir`; if the files are not there, the error says where they were looked for
// and how to get them.
MnistData LoadMnistFrom(const std::string& dir);

}  // namespace hypergrad::experiments

#endif  // HYPERGRAD_EXPERIMENTS_COMMON_MNIST_SOURCE_H_
