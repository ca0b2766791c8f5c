"""Every file name acf writes: a run's, an exported candidate's, a converted model's. Plain constants (no pydantic),
so a plugin can name them cheaply.

    run_config.json  model_spec.json  baseline.json  pareto_frontier.json  final_results.json  report.html
    run.lock  suggestions.json  searcher/round_NNN.json
    episode_NNN/strategy.json  episode_NNN/result.json  episode_NNN/error.txt
"""

from __future__ import annotations

import re

RUN_CONFIG = "run_config.json"
MODEL_SPEC = "model_spec.json"
BASELINE = "baseline.json"
BY_RUNTIME = "by_runtime"  # the key of baseline.json that holds the uncompressed model's costs on each runtime
FRONTIER = "pareto_frontier.json"
FINAL = "final_results.json"
STRATEGY = "strategy.json"
RESULT = "result.json"
ERROR = "error.txt"
SUGGESTIONS = "suggestions.json"
REPORT = "report.html"
SEARCHER_RECORDS = "searcher"  # a folder: the searcher's own records (the agent's rounds), round_NNN.json
EPISODE_DIR = re.compile(r"^episode_(\d{3,})$")
# Beside an exported candidate's weights: the candidate's record (its `EpisodeResult`).
CANDIDATE_RECORD = "acf_candidate.json"
# Beside an exported candidate's weights: what was exported and how its round trip went.
EXPORT_RECORD = "acf_export.json"
# Beside a model acf converted (from a GGUF file, say): where it came from, what the conversion dropped.
MODEL_SOURCE = "acf_source.json"
RUN_LOCK = "run.lock"
