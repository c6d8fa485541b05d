#!/usr/bin/env bash
# The committed numpy test vectors are what Debian's numpy generates today.
set -euo pipefail
tests="$1"
fresh=$(mktemp)
trap 'rm -f "$fresh"' EXIT
/usr/bin/python3 "$tests/support/make_numpy_vectors.py" > "$fresh"
if ! diff -q "$tests/data/numpy_random_vectors.json" "$fresh" >/dev/null; then
  echo "numpy_vectors_current: tests/data/numpy_random_vectors.json differs from numpy's output:" >&2
  diff "$tests/data/numpy_random_vectors.json" "$fresh" | head -20 >&2
  exit 1
fi
echo "numpy vectors current (numpy $(/usr/bin/python3 -c 'import numpy; print(numpy.__version__)'))"
