#!/usr/bin/env bash
# `cmake --install` gives a usable package: installs the built tree into a scratch prefix under
# the build folder, checks that the headers keep their folders and the library-private ones stay
# out, then configures, builds and runs tests/install_consumer (find_package(hypergrad CONFIG),
# hypergrad::hypergrad, every installed header compiled) against the installed tree alone.
# Usage: install_test.sh <configured and built build dir> <cmake>
set -euo pipefail
build=$(cd "$1" && pwd)
cmake=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/support/script_common.sh"
work=$build/install_test
rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix

"$cmake" --install "$build" --prefix "$prefix" > "$work/install.log" \
  || fail "cmake --install: $(tail -5 "$work/install.log")"
include=$prefix/include/hypergrad
for header in optimizers/reversible_rmsprop.h optimizers/registry.h estimators/estimator.h results/h5_writer.h; do
  [ -f "$include/$header" ] || fail "$header not installed under include/hypergrad/"
done
for header in trajectories/fixed_point_trajectory.h buffers/word_stacks.h buffers/ans_buffer.h \
              buffers/exact_buffer.h; do
  [ ! -e "$include/$header" ] || fail "library-private $header was installed"
done
# The Python package is the component `python`, EXCLUDE_FROM_ALL (lib/python/CMakeLists.txt): a
# plain `cmake --install` of the library puts nothing Python under the prefix.
if find "$prefix" -name '_core*.so' -o -name '*.py' | grep -q .; then
  fail "cmake --install installed Python files: $(find "$prefix" -name '_core*.so' -o -name '*.py')"
fi
for file in hypergradConfig.cmake hypergradConfigVersion.cmake hypergradTargets.cmake; do
  [ -f "$prefix/lib/cmake/hypergrad/$file" ] || fail "$file not installed"
done
# The package names nothing in the source or build tree (it must work once they are gone).
source_dir=$(cd "$here/.." && pwd)
if grep -rl -e "$source_dir" -e "$build" "$prefix/lib/cmake/hypergrad"; then
  fail "the package refers to the source or build tree (files above)"
fi

"$cmake" -S "$here/install_consumer" -B "$work/consumer" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" > "$work/configure.log" 2>&1 \
  || fail "configuring the consumer: $(tail -20 "$work/configure.log")"
"$cmake" --build "$work/consumer" > "$work/build.log" 2>&1 \
  || fail "building the consumer: $(tail -30 "$work/build.log")"
OPENBLAS_NUM_THREADS=1 "$work/consumer/app" > "$work/out.txt" || fail "consumer: $(cat "$work/out.txt")"
for optimizer in sgd adam rmsprop; do
  grep -q "^$optimizer reversal_exact 1 " "$work/out.txt" || fail "no exact $optimizer run: $(cat "$work/out.txt")"
done
cat "$work/out.txt"
