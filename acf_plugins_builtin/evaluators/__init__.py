"""Built-in evaluators: tasks (gsm8k, perplexity) and costs (size, latency, memory)."""

from acf import hookimpl


@hookimpl
def register_evaluators(register):
    from .gsm8k import GSM8K
    from .latency import Latency
    from .memory import PeakMemory
    from .perplexity import Perplexity
    from .size import Size

    for evaluator in (GSM8K, Perplexity, Size, Latency, PeakMemory):
        register(evaluator)
