"""Runs tests/python/test_torch.py with pytest when it is installed, else with a minimal
stand-in for the pytest features that file uses (parametrize, skip/skipif, importorskip, raises,
warns, monkeypatch), so that a machine with only python3 and torch (e.g. a GPU host) can run it.

  HYPERGRAD_TEST_DEVICE=cuda PYTHONPATH=lib/python python3 experiments/python/run_torch_tests.py \\
      tests/python/test_torch.py
"""
import contextlib
import importlib.util
import itertools
import re
import sys
import traceback
import types
import warnings

path = sys.argv[1]
try:
    import pytest  # noqa: F401
    sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "-rs", path] + sys.argv[2:]))
except ImportError:
    pass


class Skipped(Exception):
    pass


def skip(reason="", allow_module_level=False):
    raise Skipped(reason)


def importorskip(name):
    try:
        return __import__(name)
    except ImportError:
        raise Skipped(f"{name} absent")


@contextlib.contextmanager
def raises(kind, match=None):
    try:
        yield
    except kind as e:
        if match and not re.search(match, str(e)):
            raise AssertionError(f"{kind.__name__} {str(e)!r} does not match {match!r}")
        return
    raise AssertionError(f"did not raise {kind.__name__}")


@contextlib.contextmanager
def warns(kind, match=None):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        yield
    if not any(issubclass(w.category, kind) and (not match or re.search(match, str(w.message)))
               for w in seen):
        raise AssertionError(f"no {kind.__name__} matching {match!r}")


class Mark:
    def parametrize(self, names, values):
        def decorate(f):
            f.__dict__.setdefault("params", []).insert(0, (names.split(","), values))
            return f
        return decorate

    def skipif(self, condition, reason=""):
        def decorate(f):
            if condition:
                f.skip_reason = reason
            return f
        return decorate


class MonkeyPatch:
    def __init__(self):
        self.undo = []

    def setattr(self, target, name, value):
        self.undo.append((target, name, getattr(target, name)))
        setattr(target, name, value)

    def close(self):
        for target, name, value in reversed(self.undo):
            setattr(target, name, value)


stub = types.ModuleType("pytest")
stub.skip, stub.importorskip, stub.raises, stub.warns, stub.mark = skip, importorskip, raises, warns, Mark()
sys.modules["pytest"] = stub
spec = importlib.util.spec_from_file_location("test_module", path)
module = importlib.util.module_from_spec(spec)
try:
    spec.loader.exec_module(module)
except Skipped as e:
    print(f"module skipped: {e}")
    sys.exit(0)
failed = passed = skipped = 0
for name, f in list(vars(module).items()):
    if not name.startswith("test_") or not callable(f):
        continue
    grids = getattr(f, "params", [])
    combos = [dict()]
    for names, values in grids:
        combos = [dict(c, **dict(zip(names, v if len(names) > 1 else (v,)))) for c in combos
                  for v in values]
    for combo in combos:
        label = f"{name}[{'-'.join(map(str, combo.values()))}]" if combo else name
        if getattr(f, "skip_reason", None):
            print(f"SKIP {label}: {f.skip_reason}")
            skipped += 1
            continue
        mp = MonkeyPatch()
        try:
            kwargs = dict(combo)
            if "monkeypatch" in f.__code__.co_varnames[:f.__code__.co_argcount]:
                kwargs["monkeypatch"] = mp
            f(**kwargs)
            print(f"PASS {label}", flush=True)
            passed += 1
        except Skipped as e:
            print(f"SKIP {label}: {e}")
            skipped += 1
        except Exception:
            print(f"FAIL {label}\n{traceback.format_exc()}", flush=True)
            failed += 1
        finally:
            mp.close()
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
