"""Every run option, declared once: name, type, default and help. `RunConfig` (the pydantic model whose dump is
`run_config.json`) is built from this table, and `acf compress` takes its defaults and help texts from it.

Plain Python on purpose: the CLI reads it to build `acf --help` without importing pydantic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

REQUIRED = ...


@dataclass(frozen=True)
class RunOption:
    name: str
    type: Any
    default: Any
    help: str
    # True for an option that says where the search runs, not what it searches (the executor): a run may be
    # resumed with another value.
    placement: bool = False

    @property
    def cli_default(self) -> Any:
        """What the command line starts from: an empty list for repeated (list or KEY=VALUE) options."""
        return [] if self.default in (list, dict) else self.default

    def value(self) -> Any:
        """The default value itself (a fresh list or dict for the factories)."""
        return self.default() if self.default in (list, dict) else self.default


RUN_OPTIONS = (
    RunOption("model", str, REQUIRED, "alias (acf plugins list --all), local folder or Hub id"),
    RunOption("dataset", str, REQUIRED, "task to keep accurate on, e.g. gsm8k"),
    RunOption("episodes", int, 8, "strategies to try"),
    RunOption("searcher", str, "nevergrad", "nevergrad, random, grid or a plugin's"),
    RunOption("seed", int, 0, "makes the search reproducible"),
    RunOption("reward", str, "balanced", "reward preset: balanced, accuracy, latency, size"),
    RunOption("weights", dict[str, float], dict, "custom weight METRIC=W (overrides the preset)"),
    RunOption("objectives", list[str], list, "frontier objective (repeat); default: task metric and size_mb"),
    RunOption("constraints", list[str], list, "hard constraint, e.g. 'size_mb<=100' or 'perplexity<=1.1*baseline'"),
    RunOption("methods", list[str], list, "restrict to these methods (repeat)"),
    RunOption("max_steps", int, 2, "longest pipeline of methods"),
    RunOption("strategies", list[dict[str, Any]], list, "strategies to try first (as given), before the searcher's own"),
    RunOption("evaluators", list[str], list, "cost evaluators (repeat); default: size, latency, memory"),
    RunOption("evaluator_options", dict[str, dict[str, Any]], dict, "EVALUATOR.OPTION=VALUE (repeat)"),
    RunOption("promote", int, 0, "after the search, re-score this many promising candidates at the task's full fidelity"),
    RunOption("episode_budget_s", float | None, None,
              "most estimated seconds of compression per episode (default 30 on CPU, 900 on GPU)"),
    RunOption("episode_timeout_s", float | None, None, "wall-clock seconds one episode may take; past it the episode fails"),
    RunOption("track", list[str], list, "mirror the run into a tracker, e.g. mlflow (repeat)"),
    RunOption("track_uri", str | None, None, "tracking URI (default: MLFLOW_TRACKING_URI or ./mlruns)"),
    RunOption("device", str, "auto", "auto, cpu, cuda, cuda:1 …"),
    RunOption("dtype", str, "auto", "auto, float32, bfloat16, float16"),
    RunOption("runtime", str, "auto", "where cost is measured: auto (a runtime native to each candidate's format, "
              "else hf, marked simulated), hf, llama.cpp, vllm or a plugin's (acf plugins list)"),
    RunOption("trust_remote_code", bool, False, "allow the model's own code to run"),
    RunOption("llm_endpoint", str | None, None, "--searcher agent: an OpenAI-compatible chat endpoint "
              "(https://api.openai.com/v1, or a vLLM / llama.cpp / Ollama server's /v1); default: a local model"),
    RunOption("llm_model", str | None, None, "--searcher agent: the endpoint's model name, or the local chat model "
              "(alias or folder; default smollm2-135m)"),
    RunOption("llm_key_env", str, "OPENAI_API_KEY", "--searcher agent: the environment variable holding the "
              "endpoint's API key (never written anywhere)"),
    RunOption("executor", str, "local", "local (one candidate at a time, in this process) or ray (candidates in "
              "parallel on Ray workers: extra acf[ray])", placement=True),
    RunOption("ray_address", str | None, None, "the Ray cluster to use (ray://HOST:10001, HOST:6379 or auto); "
              "default: the RAY_ADDRESS variable, else a local cluster started for the run", placement=True),
    RunOption("workers", int, 2, "candidates in flight at once with --executor ray (one worker process each)",
              placement=True),
    RunOption("gpus_per_candidate", float, 0.0, "GPUs each Ray worker takes (0: CPU only; 1 on a GPU cluster)",
              placement=True),
    RunOption("tell_order", str, "completion", "completion (the searcher learns each result as it arrives) or "
              "episode (in episode order: reproducible, slower when candidates differ in time)", placement=True),
)
OPTIONS = {o.name: o for o in RUN_OPTIONS}
EXECUTORS = ("local", "ray")
TELL_ORDERS = ("completion", "episode")
DEFAULT_COST_EVALUATORS = ("size", "latency", "memory")
