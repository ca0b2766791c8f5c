"""acf, the Agentic Compression Framework: the public API for users and plugin authors.

Users call `compress`, `resume`, `load_run`, `evaluate` and `export`. Plugin authors subclass the interfaces
named here and may also use the helpers in `acf.toolkit`; nothing else in `acf` is a stable surface (a test
keeps the built-in plugins to these two modules). Names are imported on first use, so `import acf` (and
`acf --help`) stays fast and never imports torch.
"""

from __future__ import annotations

from acf.plugins.hookspecs import hookimpl
from acf.system.lazy import lazy_getattr

__version__ = "0.1.0"

_EXPORTS = {
    # the Python API
    "compress": "acf.api",
    "resume": "acf.api",
    "load_run": "acf.api",
    "evaluate": "acf.api",
    "export": "acf.api",
    "CompressResult": "acf.api",
    "Session": "acf.session.session",
    # errors
    "AcfError": "acf.errors",
    "UnknownPluginError": "acf.errors",
    "MissingBackendError": "acf.errors",
    "BackendImportError": "acf.errors",
    "DatasetNotFoundError": "acf.errors",
    "StrategyError": "acf.errors",
    "ModelNotFoundError": "acf.errors",
    # plugin interfaces
    "Method": "acf.plugins.method",
    "Stage": "acf.plugins.method",
    "Resources": "acf.plugins.method",
    "Evaluator": "acf.plugins.evaluator",
    "Searcher": "acf.plugins.searcher",
    "RunView": "acf.plugins.view",
    "RewardPreset": "acf.plugins.reward_preset",
    "ModelAlias": "acf.plugins.model_alias",
    "Tracker": "acf.plugins.tracker",
    "Runtime": "acf.plugins.runtime",
    "Deployment": "acf.plugins.runtime",
    # the types they take and return
    "Space": "acf.types.space",
    "Choice": "acf.types.space",
    "Int": "acf.types.space",
    "Float": "acf.types.space",
    "Strategy": "acf.types.strategy",
    "Step": "acf.types.strategy",
    "Measurement": "acf.types.measurement",
    "Metric": "acf.types.objectives",
    "Constraint": "acf.types.objectives",
    "ModelSpec": "acf.types.spec",
    "Context": "acf.plugins.context",
    "Records": "acf.plugins.context",
    "EpisodeResult": "acf.types.results",
    "FinalResults": "acf.types.results",
    "Promotion": "acf.types.results",
    "Frontier": "acf.types.frontier",
    "RunConfig": "acf.types.config",
    "TensorFormat": "acf.types.tensor_format",
}

__all__ = ["hookimpl", "__version__", *_EXPORTS]

__getattr__ = lazy_getattr("acf", _EXPORTS, globals())
