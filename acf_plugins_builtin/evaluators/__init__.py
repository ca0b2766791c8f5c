"""Built-in evaluators: tasks (gsm8k, commonsenseqa, truthfulqa, humaneval, bbh, perplexity), costs (size, latency,
memory, throughput, energy) and the scoring both share."""

from acf import hookimpl


@hookimpl
def register_evaluators(register):
    from acf_plugins_builtin.evaluators.costs.energy import Energy
    from acf_plugins_builtin.evaluators.costs.latency import Latency
    from acf_plugins_builtin.evaluators.costs.memory import PeakMemory
    from acf_plugins_builtin.evaluators.costs.size import Size
    from acf_plugins_builtin.evaluators.costs.throughput import Throughput
    from acf_plugins_builtin.evaluators.tasks.bbh import BBH
    from acf_plugins_builtin.evaluators.tasks.commonsenseqa import CommonsenseQA
    from acf_plugins_builtin.evaluators.tasks.gsm8k import GSM8K
    from acf_plugins_builtin.evaluators.tasks.humaneval import HumanEval
    from acf_plugins_builtin.evaluators.tasks.perplexity import Perplexity
    from acf_plugins_builtin.evaluators.tasks.truthfulqa import TruthfulQA

    for evaluator in (
        GSM8K,
        CommonsenseQA,
        TruthfulQA,
        HumanEval,
        BBH,
        Perplexity,
        Size,
        Latency,
        PeakMemory,
        Throughput,
        Energy,
    ):
        register(evaluator)
