"""The helpers plugins may use, besides the interfaces `acf` exports: statistics, files and the cache folder,
model structure, backends, progress bars. Everything here is a stable surface for plugin authors.

Imported on first use, like `acf` itself, so a plugin module that imports from here stays cheap to load.
"""

from __future__ import annotations

from acf.system.lazy import lazy_getattr

_EXPORTS = {
    # statistics: every number is a Measurement with an interval
    "Z95": "acf.types.measurement",
    "mean": "acf.types.measurement",
    "median": "acf.types.measurement",
    "proportion": "acf.types.measurement",
    "percentile": "acf.types.measurement",
    "bootstrap_interval": "acf.types.measurement",
    "wilson_interval": "acf.types.measurement",
    "mean_interval": "acf.types.measurement",
    "best_index": "acf.types.measurement",
    # the fidelity of a cost timed once (a candidate dominated on accuracy even at its best case)
    "QUICK": "acf.types.measurement",
    # files: atomic JSON, where acf keeps its cache
    "atomic_write_json": "acf.rundir.files",
    "read_json": "acf.rundir.files",
    "cache_dir": "acf.rundir.files",
    # model structure: the adapters of each model family, compressible layers, sizes
    "family_of": "acf.models.families",
    "ModelFamily": "acf.models.families",
    "unsupported_family": "acf.models.families",
    "compressible_linears": "acf.models.families",
    "model_bytes": "acf.system.machine",
    "model_device": "acf.system.machine",
    "split_pair": "acf.models.tokens",
    "stored_bits": "acf.models.formats",
    # checkpoints on disk: bytes of tensor data, the Hugging Face writer
    "tensor_bytes": "acf.models.artifact",
    "content_hash": "acf.models.artifact",
    # backends and output
    "import_backend": "acf.plugins.backends",
    "quiet_progress_bars": "acf.models.loading",
    # searchers: the Pareto order, the identity of a point, the strategy a point stands for
    "dominates": "acf.types.frontier",
    "point_key": "acf.search.proposals",
    "normal_point": "acf.search.proposals",
    "point_to_strategy": "acf.search.pipelines",
    "strategy_to_point": "acf.search.pipelines",
    # models by name (alias, folder or Hub id): checked without loading, or loaded as a run loads them
    "resolve_model": "acf.session.resolve",
    "load_named_model": "acf.session.resolve",
    # reports and exports
    "write_report": "acf.report",
    "run_summary_files": "acf.rundir.store",
    "MODEL_SOURCE": "acf.rundir.names",
    "write_candidate": "acf.models.artifact",
}

__all__ = list(_EXPORTS)

__getattr__ = lazy_getattr("acf.toolkit", _EXPORTS, globals())
