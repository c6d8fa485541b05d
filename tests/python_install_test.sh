#!/usr/bin/env bash
# Installs the package with pip (pyproject.toml, --no-build-isolation, offline) into a fresh venv
# and imports hypergrad and hypergrad.torch from a clean folder without PYTHONPATH.
# Usage: python_install_test.sh <source dir> <configured build dir>
set -euo pipefail
source_dir=$1
build_dir=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 -m venv --system-site-packages "$work/venv"
# The build folder ctest uses is reused (the module is already built there); a copy of the
# sources keeps pip's build/ and egg-info out of the checkout.
mkdir "$work/src"
(cd "$source_dir" && git ls-files -z --cached --others --exclude-standard | \
  xargs -0 cp --parents -t "$work/src" 2>/dev/null) || cp -r "$source_dir/." "$work/src"
HYPERGRAD_CMAKE_BUILD_DIR=$build_dir "$work/venv/bin/python" -m pip install --no-build-isolation \
  --no-deps --no-index -q "$work/src"
mkdir "$work/clean"
cd "$work/clean"
env -u PYTHONPATH "$work/venv/bin/python" - <<'PY'
import hypergrad, sys
assert hypergrad.__file__.startswith(sys.prefix), hypergrad.__file__
assert hypergrad.HAVE_CORE and hypergrad.momentum_ratio(0.9) is not None
print("installed:", hypergrad.__file__)
try:
    import torch
except ImportError:
    print("torch absent: hypergrad.torch not imported")
else:
    import hypergrad.torch as hgt
    net = torch.nn.Linear(3, 1).double()
    x = torch.randn(4, 3, dtype=torch.float64)
    r = hgt.hypergradients(net, lambda m, t: (m(x) ** 2).mean(), lambda m: (m(x) ** 2).mean(),
                           0.1, 0.9, T=5)
    assert r.reversal_exact
    print("hypergrad.torch: exact reversal from the installed package")
PY
