"""The interface of model aliases: a short name for a local folder or a Hub id."""

from __future__ import annotations

from typing import ClassVar

from acf.errors import ModelNotFoundError


class ModelAlias:
    """A short name for a model. `resolve()` returns a local folder or a Hub id.

    Register instances from a plugin::

        @hookimpl
        def register_model_aliases(register):
            register(ModelAlias(name="llama3", hub_id="meta-llama/Meta-Llama-3-8B-Instruct"))
    """

    name: str
    hub_id: str | None
    description: ClassVar[str] = ""

    def __init__(self, name: str, hub_id: str | None = None, description: str = ""):
        self.name, self.hub_id = name, hub_id
        if description:
            self.description = description

    def resolve(self) -> str:
        if not self.hub_id:
            raise ModelNotFoundError(f"alias {self.name!r} has no Hub id")
        return self.hub_id
