"""Exact hypergradients by reversible learning (Maclaurin, Duvenaud & Adams, ICML 2015).

The compiled core (hypergrad._core: numpy callbacks, the C++ optimizers, buffers, Mlp) is
re-exported here when it is installed; hypergrad.torch (PyTorch models on any device) needs only
PyTorch and works without it.
"""
try:
    from ._core import *  # noqa: F401,F403
    from ._core import __doc__ as _core_doc  # noqa: F401
    HAVE_CORE = True
except ImportError as _error:  # the PyTorch-only install (e.g. a GPU machine without the build)
    HAVE_CORE = False
    _CORE_ERROR = _error

    def __getattr__(name):
        raise AttributeError(f"hypergrad.{name} needs the compiled core hypergrad._core, which "
                             f"could not be imported ({_CORE_ERROR}); hypergrad.torch works "
                             "without it")
