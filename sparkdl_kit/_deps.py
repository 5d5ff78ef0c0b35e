"""Lazy imports of the heavy dependencies, with an error that names the install command."""

from __future__ import annotations

import importlib
import warnings
from types import ModuleType

from sparkdl_kit.errors import MissingDependencyError

_INSTALL_HINTS = {
    "tensorflow": "pip install -c constraints.txt tensorflow-cpu   (or run `make setup`)",
    "horovod": "run `make setup`, which compiles Horovod 0.28.1 with TensorFlow and Gloo",
    "petastorm": "pip install -c constraints.txt petastorm",
    "PIL": "pip install pillow",
}


def require(module: str) -> ModuleType:
    """Imports ``module`` or raises :class:`MissingDependencyError` naming the install command."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        top = module.split(".")[0]
        hint = _INSTALL_HINTS.get(top, f"pip install {top}")
        raise MissingDependencyError(
            f"sparkdl_kit needs '{module}', which cannot be imported here ({e}). Install it: {hint}"
        ) from e


def quiet_legacy_warnings() -> None:
    """Filters the FutureWarnings Petastorm triggers in pyarrow's legacy dataset API.

    They are expected on the pinned stack (pyarrow 10 + Petastorm 0.13) and say nothing the user
    can act on. Called by the session on the driver and by the reader inside workers.
    """
    for module in ("petastorm", "pyarrow"):
        warnings.filterwarnings("ignore", category=FutureWarning, module=module)
    warnings.filterwarnings("ignore", message=".*legacy.*ParquetDataset.*", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*pyarrow.filesystem.*", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*pyarrow.localfs.*", category=FutureWarning)
