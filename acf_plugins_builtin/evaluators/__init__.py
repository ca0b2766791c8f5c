"""Built-in evaluators: tasks (gsm8k, commonsenseqa, truthfulqa, humaneval, bbh, perplexity) and costs (size, latency, memory, throughput, energy)."""

from acf import hookimpl


@hookimpl
def register_evaluators(register):
    from .bbh import BBH
    from .commonsenseqa import CommonsenseQA
    from .energy import Energy
    from .gsm8k import GSM8K
    from .humaneval import HumanEval
    from .latency import Latency
    from .memory import PeakMemory
    from .perplexity import Perplexity
    from .size import Size
    from .throughput import Throughput
    from .truthfulqa import TruthfulQA

    for evaluator in (GSM8K, CommonsenseQA, TruthfulQA, HumanEval, BBH, Perplexity, Size, Latency, PeakMemory, Throughput, Energy):
        register(evaluator)
