#!/usr/bin/python3
"""Test vectors for lib/random/numpy_random.cc from Debian's numpy (legacy RandomState, frozen since
numpy 1.17). Writes JSON to stdout; tests/data/numpy_random_vectors.json is its output.

  /usr/bin/python3 tests/support/make_numpy_vectors.py > tests/data/numpy_random_vectors.json
"""
import hashlib
import json
import math
import sys

import numpy as np


def authors_seed(obj):
    # The authors' hypergrad/util.py: int(md5(str(obj)).hexdigest()[:8], 16).
    return int(hashlib.md5(str(obj).encode()).hexdigest()[:8], 16)


def floats(xs):
    return [float.hex(float(x)) for x in xs]  # exact, as C99 hex floats


def main():
    out = {"seeds": []}
    for seed in [0, 1, 42, 12345, 2**31, 2**32 - 1]:
        rs = np.random.RandomState(seed)
        raw = [int(v) for v in rs.randint(0, 2**32, size=6, dtype=np.uint64)]
        rs = np.random.RandomState(seed)
        uniform = floats(rs.random_sample(5))
        rs = np.random.RandomState(seed)
        normal_odd = floats(rs.randn(7))   # leaves one cached value ...
        normal_next = floats(rs.randn(3))  # ... returned first here
        rs = np.random.RandomState(seed)
        # The cache survives other calls: randn(1), random_sample(), randn(1).
        mixed = floats([rs.randn(), rs.random_sample(), rs.randn(), rs.randn()])
        rs = np.random.RandomState(seed)
        ints = {str(h): [int(v) for v in rs.randint(h, size=6)]
                for h in [1, 2, 3, 7, 10, 200, 10000, 65537, 2**31 + 1, 2**32]}
        rs = np.random.RandomState(seed)
        perm10 = [int(v) for v in rs.permutation(10)]
        perm1000 = [int(v) for v in rs.permutation(1000)]
        rs = np.random.RandomState(seed)
        shuffled = list(range(17))
        rs.shuffle(shuffled)
        out["seeds"].append({"seed": seed, "raw32": raw, "random_sample": uniform,
                             "randn7": normal_odd, "randn3_after": normal_next,
                             "mixed": mixed, "randint_after_each_other": ints,
                             "permutation10": perm10, "permutation1000_after": perm1000,
                             "shuffle17": shuffled})
    objs = ["(0, 0)", "(0, 0, 0)", "(0, 0, 1)", "(0, 'top_rs')", "(0, 0, 'hyperloss')",
            "final_training", "(0, 'plotting')", "1", "(0, 49, 99)", "(7,)"]
    out["authors_seeds"] = {o: authors_seed(eval(o) if o != "final_training" else o)
                            for o in objs}
    # Draws of the figure targets (in the order of the authors' experiment.py files), to check the
    # targets' streams. The scales use math.exp (the C library's, correctly rounded here): numpy >=
    # 1.20 has its own exp, 1 ulp off at -1 and -2, while the numpy of 2015 that made the authors'
    # runs called the C library.
    rs = np.random.RandomState(0)
    rs.randn(167560)
    out["fig10_w0_first"] = floats(rs.randn(8) * math.exp(-2))
    rs = np.random.RandomState(0)
    rs.randn(7850)
    out["fig06_w0_first"] = floats(rs.randn(8) * math.exp(-4))
    rs = np.random.RandomState(0)
    out["fig07_images_first"] = floats(rs.randn(8) * 0.01)
    rs = np.random.RandomState(authors_seed((0, 0)))
    out["fig02_epsilon_first"] = floats(rs.randn(8))
    rs = np.random.RandomState(authors_seed((0, 0, 0)))
    out["fig02_batch_0_0_first"] = [int(v) for v in rs.randint(10000, size=200)[:8]]
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
