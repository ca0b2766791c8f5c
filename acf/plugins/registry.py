"""The registry: every method, evaluator, searcher, preset, alias, tracker and runtime the plugins registered, by
kind."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from acf.errors import PluginCollisionError, UnknownPluginError

KINDS = {
    "method": "register_methods",
    "evaluator": "register_evaluators",
    "searcher": "register_searchers",
    "reward_preset": "register_reward_presets",
    "model_alias": "register_model_aliases",
    "tracker": "register_trackers",
    "runtime": "register_runtimes",
}
PLURAL = {
    "method": "methods",
    "evaluator": "evaluators",
    "searcher": "searchers",
    "reward_preset": "reward_presets",
    "model_alias": "model_aliases",
    "tracker": "trackers",
    "runtime": "runtimes",
}


def marked_as(cls: Any, flag: str) -> bool:
    """Whether a registered class sets `flag` (`default`, `fallback`, `in_default_runs`) itself: a plugin's subclass
    of the default searcher is not the default too."""
    return bool(vars(cls).get(flag, False)) if isinstance(cls, type) else bool(getattr(cls, flag, False))


@dataclass
class Registry:
    """Everything the plugins registered, by kind: name → (object, plugin name)."""

    items: dict[str, dict[str, tuple[Any, str]]] = field(default_factory=lambda: {k: {} for k in KINDS})

    def add(self, kind: str, obj: Any, plugin: str) -> None:
        name = getattr(obj, "name", "")
        if not name:
            raise PluginCollisionError(f"plugin {plugin!r} registered a {kind} without a name")
        if name in self.items[kind]:
            other = self.items[kind][name][1]
            raise PluginCollisionError(
                f"{kind} {name!r} is registered by both {other!r} and {plugin!r}",
                hint="disable one of them with ACF_DISABLED_PLUGINS",
            )
        self.items[kind][name] = (obj, plugin)

    def get(self, kind: str, name: str) -> Any:
        try:
            return self.items[kind][name][0]
        except KeyError:
            raise UnknownPluginError(kind.replace("_", " "), name, list(self.items[kind])) from None

    def default(self, kind: str, flag: str = "default") -> str:
        """The name of the one `kind` registered with `flag` set (`Searcher.default`, `RewardPreset.default`)."""
        marked = [name for name, (obj, _) in self.items[kind].items() if marked_as(obj, flag)]
        if len(marked) != 1:
            raise PluginCollisionError(
                f"exactly one {kind.replace('_', ' ')} must set {flag} = True; {', '.join(marked) or 'none does'}",
                hint="disable one of them with ACF_DISABLED_PLUGINS" if marked else None,
            )
        return marked[0]

    def names(self, kind: str) -> list[str]:
        return sorted(self.items[kind])

    def all(self, kind: str) -> dict[str, Any]:
        return {name: obj for name, (obj, _) in self.items[kind].items()}

    def by_plugin(self, plugin: str) -> dict[str, list[str]]:
        return {kind: sorted(n for n, (_, p) in entries.items() if p == plugin) for kind, entries in self.items.items()}
