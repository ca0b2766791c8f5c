"""What the LLM is told of the run, and how its reply is read."""

from __future__ import annotations

import json
import re
from typing import Any

from acf import AcfError, Choice, Float, Int

SYSTEM = (
    "You propose compression strategies for acf, which searches for compressed versions of a causal language "
    "model. A strategy is an ordered list of steps, each a method with parameters from the space described. "
    "Propose strategies that are not tried yet, meet the constraints, and are likely to reach or extend the "
    "Pareto frontier of the objectives. Use what the results so far show: what failed and why, what is on "
    "the frontier. Reply with JSON only."
)
PLACEHOLDER = "one sentence"  # the rationale's stand-in in FORMAT: a reply that repeats it gave none
FORMAT = (
    '{"strategies": [{"steps": [{"method": "NAME", "params": {"PARAM": VALUE}}], "rationale": "%s"}]}' % PLACEHOLDER
)
RECENT = 12


class MalformedReply(Exception):
    """The reply holds no strategies in the asked-for JSON."""


def describe_param(name: str, p: Any) -> str:
    if isinstance(p, Choice):
        return f"{name}: one of {json.dumps(p.options)}"
    kind = "integer" if isinstance(p, Int) else "number"
    scale = " (log scale)" if getattr(p, "log", False) else ""
    return f"{name}: {kind} from {p.low:g} to {p.high:g}{scale}" if isinstance(p, (Int, Float)) else name


def messages(run: Any, n: int, feedback: list[str]) -> list[dict[str, str]]:
    """The chat for one round: the model, the space, the objectives and constraints, the results, the frontier."""
    spec, space = run.spec, run.space
    lines = [
        f"Model: {spec.model_type}, {spec.num_parameters / 1e6:.0f}M parameters, {spec.num_layers} layers, "
        f"hidden {spec.hidden_size}, valid group sizes {spec.valid_group_sizes} (-1 = per channel)."
    ]
    lines.append(
        "Objectives: "
        + ", ".join(f"{m.name} ({'higher' if m.direction == 'max' else 'lower'} is better)" for m in run.objectives)
    )
    if run.constraints:
        lines.append("Constraints: " + "; ".join(run.constraints))
    baseline = ", ".join(f"{m.name}={run.baseline[m.name].value:.4g}" for m in run.objectives if m.name in run.baseline)
    lines.append(f"Uncompressed model: {baseline}.")
    pipeline = space.get("pipeline")
    lines.append("Allowed step orders (pipelines): " + ", ".join(pipeline.options))
    lines.append("Methods: " + "; ".join(f"{name}: {about}" for name, about in run.methods.items()))
    lines.append("Parameters (METHOD.PARAM), each used only by its method:")
    lines += [f"- {describe_param(p.name, p)}" for p in space.params if p.name != "pipeline"]
    done = [c for c in run.candidates]
    lines.append(f"Episodes: {len(done)} of {run.episodes} done.")
    if done:
        lines.append("Recent results:")
        for c in done[-RECENT:]:
            if c.status == "ok":
                values = ", ".join(
                    f"{m.name}={c.value(m.name):.4g}" for m in run.objectives if m.name in c.measurements
                )
                lines.append(f"- {c.strategy.describe()}: {values}" + ("" if c.feasible else " (violates constraints)"))
            else:
                lines.append(f"- {c.strategy.describe()}: {c.status}: {c.reason}")
    frontier = run.frontier() if run.frontier else None
    if frontier is not None and frontier.candidates:
        lines.append("Pareto frontier: " + "; ".join(c.strategy.describe() for c in frontier.candidates))
    if feedback:
        lines.append("Your last proposals that could not run: " + "; ".join(feedback))
    lines.append(f"Propose up to {n} new strategies as {FORMAT}")
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n".join(lines)}]


def parse_reply(text: str) -> list[dict[str, Any]]:
    """The strategies of a reply ({"steps": …, "rationale": …} each); the JSON may sit inside prose or a code fence."""
    for match in re.finditer(r"[\[{]", text):
        try:
            data, _ = json.JSONDecoder().raw_decode(text[match.start() :])
        except json.JSONDecodeError:
            continue
        items = data.get("strategies") if isinstance(data, dict) else data
        if isinstance(items, dict):
            items = [items]
        if isinstance(items, list) and items and all(isinstance(i, dict) and "steps" in i for i in items):
            return [{"steps": i["steps"], "rationale": own_words(str(i.get("rationale", "")))} for i in items]
    raise MalformedReply(f"no strategies in the reply: {text[:200]!r}")


def own_words(rationale: str) -> str:
    """The rationale, or "" when the reply only repeated the format's placeholder."""
    rationale = rationale.strip()
    return "" if rationale.lower().rstrip(".") == PLACEHOLDER else rationale


def check_endpoint(endpoint: str) -> None:
    if not re.match(r"^https?://[^/\s:]+(:\d+)?(/\S*)?$", endpoint):
        raise AcfError(
            f"--llm-endpoint {endpoint!r} is not an http(s) URL",
            hint="e.g. https://api.openai.com/v1 or http://localhost:8000/v1",
        )
