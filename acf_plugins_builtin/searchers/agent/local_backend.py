"""A local chat model (default: the embedded SmolLM2-135M-Instruct) whose output is constrained to the strategy
space: it writes the reply's JSON field by field, and wherever the schema allows a fixed set of values (a pipeline,
a method's parameter) it picks among exactly those by their log-likelihood after the text so far — so even a
small model returns only strategies the space holds. The rationale is its own greedy text."""

from __future__ import annotations

import json
from typing import Any

from acf import Choice
from acf.toolkit import load_named_model, point_to_strategy, resolve_model

from .openai_backend import Reply

DEFAULT_MODEL = "smollm2-135m"
RATIONALE_TOKENS = 40
# How many values of a numeric parameter the model chooses among.
LEVELS = 5


def chat_text(tokenizer: Any, messages: list[dict[str, str]]) -> str:
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant: "


class LocalBackend:
    kind = "local"

    def __init__(self, model: str | None):
        self.name = model or DEFAULT_MODEL
        resolve_model(self.name)  # an unknown alias or a missing folder: one line, before any work
        self.model = self.tokenizer = None

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "model": self.name}

    def _load(self) -> None:
        if self.model is None:
            self.model, self.tokenizer = load_named_model(self.name)

    def _pick(self, text: str, options: list[Any], used: list[int]) -> Any:
        """The option the model finds likeliest after `text` (mean log-probability per token)."""
        from acf_plugins_builtin.evaluators.choice_scoring import choice_logprobs

        rendered = [json.dumps(o) for o in options]
        scores = choice_logprobs(self.model, self.tokenizer, [(text, rendered)])[0]
        used.append(sum(n for _, n in scores))
        best = max(range(len(options)), key=lambda i: scores[i][0] / max(scores[i][1], 1))
        return options[best]

    def propose(self, messages: list[dict[str, str]], n: int, space: Any) -> Reply:
        from acf_plugins_builtin.evaluators.choice_scoring import choice_logprobs
        from acf_plugins_builtin.evaluators.generation import greedy_generate

        self._load()
        prompt = chat_text(self.tokenizer, messages) + '{"strategies": [{"pipeline": '
        used: list[int] = []
        pipelines = space.get("pipeline").options
        scores = choice_logprobs(self.model, self.tokenizer, [(prompt, [json.dumps(p) for p in pipelines])])[0]
        used.append(sum(k for _, k in scores))
        ranked = sorted(range(len(pipelines)), key=lambda i: -scores[i][0] / max(scores[i][1], 1))[:n]
        strategies = []
        for i in ranked:
            point = {"pipeline": pipelines[i]}
            text = prompt + json.dumps(pipelines[i])
            for p in space.params:
                if p.name == "pipeline" or not p.is_active(point):
                    continue
                text += f', "{p.name}": '
                options = p.options if isinstance(p, Choice) else p.levels(LEVELS)
                point[p.name] = self._pick(text, options, used)
                text += json.dumps(point[p.name])
            text += ', "rationale": "'
            why = greedy_generate(self.model, self.tokenizer, [text], max_new_tokens=RATIONALE_TOKENS, stop=['"'])[0]
            rationale = why.split('"')[0].strip()
            used.append(len(self.tokenizer(why)["input_ids"]))
            strategies.append({"steps": point_to_strategy(point).model_dump(mode="json")["steps"], "rationale": rationale})
        prompt_tokens = len(self.tokenizer(prompt)["input_ids"])
        return Reply(json.dumps({"strategies": strategies}), strategies, prompt_tokens, sum(used))

    def transient(self, exc: Exception) -> bool:
        return False
