"""The README's table of hypergrad.torch benchmark numbers is what experiments/python/
bench_torch.py --table makes of the committed result files (so the README states the measured
numbers, with the CUDA rows marked as not measured while no CUDA result is committed)."""
import importlib.util
import os

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FILES = ["results/bench/torch_cpu_fig2.json", "results/bench/torch_cpu_wide.json",
         "results/bench/torch_cpu_wide_malloc_heap.json"]


def load_bench():
    spec = importlib.util.spec_from_file_location(
        "bench_torch", os.path.join(ROOT, "experiments", "python", "bench_torch.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_table_is_the_committed_results():
    bench = load_bench()
    table = bench.table([os.path.join(ROOT, f) for f in FILES], ["cuda"])
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    assert table in readme, "README's bench_torch table differs from:\n" + table
    assert "| fig2 | 1000 | cuda | not measured (no GPU available) |" in table
    assert "Target (fig2, T = 1000, cpu): exact" in table
