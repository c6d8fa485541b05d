# Shared by the end-to-end test scripts (source it after `set -euo pipefail`): a scratch folder
# removed on exit, `fail MESSAGE` (exit 1), and Debian's Python with h5py/matplotlib/numpy.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
py=/usr/bin/python3
