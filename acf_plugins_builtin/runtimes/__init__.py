"""Built-in runtimes: where candidates' cost is measured."""

from acf import hookimpl


@hookimpl
def register_runtimes(register):
    from .hf import HFRuntime
    from .llamacpp import LlamaCppRuntime
    from .vllm import VLLMRuntime

    register(HFRuntime)
    register(LlamaCppRuntime)
    register(VLLMRuntime)
