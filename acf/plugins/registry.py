"""The registry: every method, evaluator, searcher, preset, alias, tracker and runtime the plugins registered, by kind."""

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
PLURAL = {"method": "methods", "evaluator": "evaluators", "searcher": "searchers",
          "reward_preset": "reward_presets", "model_alias": "model_aliases",
          "tracker": "trackers", "runtime": "runtimes"}


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

    def names(self, kind: str) -> list[str]:
        return sorted(self.items[kind])

    def all(self, kind: str) -> dict[str, Any]:
        return {name: obj for name, (obj, _) in self.items[kind].items()}

    def by_plugin(self, plugin: str) -> dict[str, list[str]]:
        return {
            kind: sorted(n for n, (_, p) in entries.items() if p == plugin)
            for kind, entries in self.items.items()
        }
