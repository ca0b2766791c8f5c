"""acf, the Agentic Compression Framework: the public API for users and plugin authors.

Names are imported on first use, so `import acf` (and `acf --help`) stays fast and never imports torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from acf.hookspecs import hookimpl

__version__ = "0.1.0"

_EXPORTS = {
    "compress": "acf.api", "resume": "acf.api", "load_run": "acf.api", "CompressResult": "acf.api",
    "AcfError": "acf.errors", "UnknownPluginError": "acf.errors", "MissingBackendError": "acf.errors",
    "DatasetNotFoundError": "acf.errors", "StrategyError": "acf.errors", "ModelNotFoundError": "acf.errors",
    "Method": "acf.method", "Stage": "acf.method", "Resources": "acf.method",
    "Evaluator": "acf.evaluator", "Searcher": "acf.searcher", "RewardPreset": "acf.reward",
    "ModelAlias": "acf.loading", "Tracker": "acf.tracker",
    "Space": "acf.space", "Choice": "acf.space", "Int": "acf.space", "Float": "acf.space",
    "Strategy": "acf.strategy", "Step": "acf.strategy",
    "Measurement": "acf.measure", "Metric": "acf.objectives", "Constraint": "acf.objectives",
    "ModelSpec": "acf.spec", "Context": "acf.context", "Candidate": "acf.candidate", "Frontier": "acf.frontier",
    "RunConfig": "acf.config", "TensorFormat": "acf.storage", "set_tensor_format": "acf.storage",
    "compressible_linears": "acf.modules",
}

__all__ = ["hookimpl", "__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'acf' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
