#!/usr/bin/python3
"""Exit 0 if two HDF5 result files hold the same datasets with the same bits (attributes, which
record how and when a run was made, are not compared). Usage: same_datasets.py A.h5 B.h5"""
import sys

import h5py
import numpy as np


def datasets(f):
    out = {}
    f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


def main():
    a, b = (datasets(h5py.File(p, "r")) for p in sys.argv[1:3])
    if a.keys() != b.keys():
        sys.exit(f"different datasets: {sorted(set(a) ^ set(b))}")
    for key in sorted(a):
        x, y = np.asarray(a[key]), np.asarray(b[key])
        if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
            sys.exit(f"dataset {key} differs between {sys.argv[1]} and {sys.argv[2]}")
    print(f"{len(a)} datasets bitwise equal")


if __name__ == "__main__":
    main()
