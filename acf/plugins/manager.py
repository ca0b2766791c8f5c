"""The plugin manager: built-ins and `acf` entry points, loaded explicitly, one at a time."""

from __future__ import annotations

import importlib
import os
import warnings
from typing import Any

import pluggy

from acf.plugins import hookspecs
from acf.plugins.registry import KINDS, Registry

BUILTIN_PLUGINS = (
    "acf_plugins_builtin.models",
    "acf_plugins_builtin.methods",
    "acf_plugins_builtin.evaluators",
    "acf_plugins_builtin.searchers",
    "acf_plugins_builtin.rewards",
    "acf_plugins_builtin.trackers",
    "acf_plugins_builtin.runtimes",
)
pm = pluggy.PluginManager("acf")
pm.add_hookspecs(hookspecs)
# plugin name → (distribution name, version); built-ins map to acf's own distribution.
_distributions: dict[str, tuple[str, str]] = {}
_loaded = False
_registry: "Registry | None" = None


def _env_list(name: str) -> set[str] | None:
    value = os.environ.get(name)
    if value is None:
        return None
    return {v.strip() for v in value.split(",") if v.strip()}


def load_plugins() -> pluggy.PluginManager:
    """Register the built-ins and every installed `acf` entry point; idempotent.

    `ACF_LOAD_PLUGINS=a,b` loads only those entry-point plugins (empty: none); `ACF_DISABLED_PLUGINS=a,b`
    skips them (built-ins too, by module name). A plugin that fails to import is reported as a warning
    and skipped (re-raised with `ACF_DEBUG=1`).
    """
    global _loaded
    if _loaded:
        return pm
    _loaded = True
    disabled = _env_list("ACF_DISABLED_PLUGINS") or set()
    allowed = _env_list("ACF_LOAD_PLUGINS")
    from importlib.metadata import entry_points, version

    acf_version = _version("acf", version)
    for module_name in BUILTIN_PLUGINS:
        if module_name in disabled or module_name.rsplit(".", 1)[-1] in disabled:
            continue
        pm.register(importlib.import_module(module_name), name=module_name)
        _distributions[module_name] = ("acf", acf_version)
    for ep in entry_points(group="acf"):
        dist = ep.dist.name if ep.dist else ep.name
        if (
            ep.name in disabled
            or dist in disabled
            or (allowed is not None and ep.name not in allowed and dist not in allowed)
        ):
            continue
        try:
            pm.register(ep.load(), name=ep.name)
            pm.check_pending()  # a misspelt hook fails here, attributed to this plugin
            _distributions[ep.name] = (dist, ep.dist.version if ep.dist else "")
        except Exception as exc:  # a broken plugin must not brick the CLI
            if pm.has_plugin(ep.name):
                pm.unregister(name=ep.name)
            if os.environ.get("ACF_DEBUG"):
                raise
            warnings.warn(f'Error loading plugin "{dist}": {type(exc).__name__}: {exc}', stacklevel=2)
    pm.check_pending()
    return pm


def _version(dist: str, version) -> str:
    try:
        return version(dist)
    except Exception:
        return "unknown"


def distribution(plugin_name: str) -> tuple[str, str]:
    return _distributions.get(plugin_name, (plugin_name, ""))


def registry() -> Registry:
    """Call every `register_*` hook once and return what they registered (cached until `reset`)."""
    global _registry
    if _registry is None:
        load_plugins()
        reg = Registry()
        for kind, hook_name in KINDS.items():
            for impl in getattr(pm.hook, hook_name).get_hookimpls():
                impl.function(register=lambda obj, _k=kind, _p=impl.plugin_name: reg.add(_k, obj, _p))
        _registry = reg
    return _registry


def reset() -> None:
    """Forget the cached registry (after registering or unregistering a plugin at run time)."""
    global _registry
    _registry = None


def register_plugin(plugin: Any, name: str | None = None) -> str:
    """Register a plugin object (module or class instance) at run time; returns its name."""
    load_plugins()
    plugin_name = pm.register(plugin, name=name)
    try:
        pm.check_pending()
    except Exception:
        pm.unregister(name=plugin_name)  # a plugin with a misspelt hook is not left half-registered
        raise
    reset()
    return plugin_name


def unregister_plugin(name: str) -> None:
    pm.unregister(name=name)
    _distributions.pop(name, None)
    reset()


def hooks_of(plugin_name: str) -> list[str]:
    plugin = pm.get_plugin(plugin_name)
    return sorted(c.name for c in pm.get_hookcallers(plugin) or [])
