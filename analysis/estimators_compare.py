"""Compares the datasets of bench_estimators.h5 files bit for bit and writes what it found to a
JSON file that the report section "Exact against approximate hypergradients" quotes
(bench_estimators_repeat.json beside bench_estimators.json).

    estimators_compare.py --out results/bench/bench_estimators_repeat.json \
        --pair "two small runs, this machine" /tmp/a/bench_estimators.h5 /tmp/b/bench_estimators.h5 \
        --pair ... A.h5 B.h5

For each pair: the float datasets present in both files with the same name and shape are
compared bit for bit (NaN equal to NaN of the same bits); the count equal, the count that
differ, and for those the largest and smallest max|a − b| / max|b| per dataset; datasets in only
one file or of another shape (other sizes of the run) are counted as not comparable, and so are
a group's datasets when the JSON files beside the two HDF5 files record other settings for it
(e.g. /meta/* from 10 meta-iterations of T = 50 in a small run against 50 of T = 100 in a full
one: the same names and shapes, other quantities). Each file
is described by its root attributes: the OpenBLAS core it ran on (an OPENBLAS_CORETYPE set for a
diagnostic run shows there), host, git revision, start time, small or full run.
"""
import argparse
import datetime
import json
import os

import h5py
import numpy as np


def datasets(path):
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and obj.dtype.kind == "f":
                out["/" + name] = np.asarray(obj[()], dtype=np.float64)
        f.visititems(visit)
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
    return out, attrs


def describe(path, attrs):
    core = attrs.get("blas_core", "?")
    quick = attrs.get("quick")
    size = "small run" if bool(quick) else "full run"
    return (f"{size} {path.split('/')[-2] if '/' in path else path} (OpenBLAS core {core}, host {attrs.get('host', '?')}, "
            f"revision {str(attrs.get('git_revision', '?'))[:10]}, started {attrs.get('start_time', '?')})")


# Top-level groups of bench_estimators.h5 and the JSON key holding the settings they were made with.
GROUP_SETTINGS = {"meta": "meta_optimisation_settings", "short_horizon": "short_horizon_settings",
                  "short_horizon_schedule": "short_horizon_settings"}


def settings(h5_path):
    """The settings per top-level group, from the JSON file beside the HDF5 file (None if none)."""
    json_path = h5_path[:-3] + ".json" if h5_path.endswith(".h5") else None
    if not json_path or not os.path.exists(json_path):
        return None
    with open(json_path) as f:
        doc = json.load(f)
    return {group: doc.get(key) for group, key in GROUP_SETTINGS.items()}


def compare(name, a_path, b_path):
    a, a_attrs = datasets(a_path)
    b, b_attrs = datasets(b_path)
    a_set, b_set = settings(a_path), settings(b_path)
    # Without both JSON files the settings are unknown and only names and shapes are matched.
    other_settings = ([] if a_set is None or b_set is None else
                      sorted(g for g in GROUP_SETTINGS if a_set.get(g) != b_set.get(g)))
    equal = differ = 0
    rel = []
    names = []
    for key in sorted(set(a) & set(b)):
        x, y = a[key], b[key]
        if x.shape != y.shape or key.split("/")[1] in other_settings:
            continue
        if x.tobytes() == y.tobytes():
            equal += 1
            continue
        differ += 1
        names.append(key)
        scale = np.nanmax(np.abs(y)) if y.size else 0.0
        d = np.nanmax(np.abs(x - y)) if x.size else 0.0
        rel.append(float(d / scale) if scale > 0 else float("inf"))
    finite = [r for r in rel if np.isfinite(r)]
    return {"name": name, "a": {"path": a_path, "description": describe(a_path, a_attrs),
                                "blas_core": a_attrs.get("blas_core"), "git_revision": a_attrs.get("git_revision")},
            "b": {"path": b_path, "description": describe(b_path, b_attrs),
                  "blas_core": b_attrs.get("blas_core"), "git_revision": b_attrs.get("git_revision")},
            "compared": equal + differ, "equal": equal, "differ": differ,
            "not_comparable": len(set(a) | set(b)) - (equal + differ),
            "max_relative": max(finite) if finite else None, "min_relative": min(finite) if finite else None,
            "differing": names[:40], "groups_with_other_settings": other_settings}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--pair", nargs=3, action="append", metavar=("NAME", "A", "B"), required=True)
    args = parser.parse_args()
    doc = {"date": datetime.date.today().isoformat(), "pairs": [compare(*p) for p in args.pair]}
    for p in doc["pairs"]:
        print(f"{p['name']}: {p['equal']} of {p['compared']} equal, {p['differ']} differ "
              f"(relative {p['min_relative']} .. {p['max_relative']})")
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
