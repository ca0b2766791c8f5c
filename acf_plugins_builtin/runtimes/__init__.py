"""Built-in runtimes: where candidates' cost is measured."""

from acf import hookimpl


@hookimpl
def register_runtimes(register):
    from .hf import HFRuntime
    from .llamacpp import LlamaCppRuntime

    register(HFRuntime)
    register(LlamaCppRuntime)
