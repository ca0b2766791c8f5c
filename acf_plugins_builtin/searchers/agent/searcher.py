"""The `agent` searcher: every `every` asks, an LLM reads the run (model, space, objectives, constraints, results
and failures with their reasons, the frontier) and proposes up to `proposals` strategies with a rationale each.
They are validated like `--strategy` files; valid ones are suggested to nevergrad (so it learns from their results)
and run first; invalid ones are counted and fed back once. Every round — prompt, reply, proposals, tokens, errors —
is recorded in the run directory, and a resumed run reads it back instead of asking again. An LLM that times
out, is rate-limited or replies with no usable JSON is asked again with back-off; after `ATTEMPTS` tries that
round is nevergrad's own, counted in the run's summary."""

from __future__ import annotations

import time
from typing import Any

from acf.toolkit import normal_point, point_key

from ..nevergrad import NevergradSearcher, full_point
from .local_backend import LocalBackend
from .openai_backend import OpenAIBackend
from .prompt import MalformedReply, messages

ATTEMPTS = 3
BACKOFF_S = 1.0


def make_backend(config: Any) -> Any:
    """The backend a run's settings name; checked now, before any model work (bad input is one line)."""
    if config is not None and config.llm_endpoint:
        return OpenAIBackend(config.llm_endpoint, config.llm_model, config.llm_key_env)
    return LocalBackend(config.llm_model if config is not None else None)


class AgentSearcher(NevergradSearcher):
    name = "agent"
    description = "an LLM reads the run and proposes strategies (with rationales) that nevergrad runs and learns from"
    every = 3  # asks between rounds with the LLM
    proposals = 3  # strategies asked for per round

    def __init__(self, space, *, num_objectives: int, budget: int, seed: int, workers: int = 1, config: Any = None):
        super().__init__(space, num_objectives=num_objectives, budget=budget, seed=seed, workers=workers)
        self._seeds = []  # the LLM proposes from the start; the method-default seeds are nevergrad's own prior
        self.backend = make_backend(config)
        self.run: Any = None
        self.queue: list[tuple[dict[str, Any], str]] = []
        self.rationales: dict[str, str] = {}
        self.feedback: list[str] = []
        self.rounds = self.asks = 0
        self.counts = {
            "rounds": 0,
            "replayed": 0,
            "fallbacks": 0,
            "proposed": 0,
            "invalid": 0,
            "run": 0,
            "prompt_tokens": 0,
            "completion_tokens": 0,
        }

    def attach(self, run: Any) -> None:
        self.run = run

    def rationale(self, point: dict[str, Any]) -> str | None:
        return self.rationales.get(point_key(point))

    def summary(self) -> dict[str, Any]:
        return {"agent": {**self.counts, "backend": self.backend.describe()}}

    def ask(self) -> dict[str, Any]:
        if not self.queue and self.run is not None and self.asks % self.every == 0:
            self._round()
        self.asks += 1
        while self.queue:
            point, why = self.queue.pop(0)
            if point_key(point) in self._tried:
                continue  # proposed before (by the LLM or nevergrad): not worth an ask
            self.opt.suggest(full_point(self.space, point))
            candidate = self.opt.ask()
            asked = normal_point(self.space.active(candidate.value))
            self._asked[point_key(asked)] = candidate
            self._tried.add(point_key(asked))
            self.rationales[point_key(asked)] = why
            self.counts["run"] += 1
            return asked
        return super().ask()

    def _round(self) -> None:
        """One exchange with the LLM, or its record when the run is resumed."""
        number = self.rounds + 1
        record = self.run.load_record(number)
        if record is None:
            record = self._ask_llm(number)
            self.run.save_record(number, record)
        else:
            self.counts["replayed"] += 1
        self.rounds = number
        self.counts["rounds"] += 1
        if record.get("error"):
            self.counts["fallbacks"] += 1
        self.counts["prompt_tokens"] += record.get("prompt_tokens", 0)
        self.counts["completion_tokens"] += record.get("completion_tokens", 0)
        self.feedback = []
        for proposal in record.get("strategies", []):
            self.counts["proposed"] += 1
            point, why_not = self.run.validate({"steps": proposal["steps"]})
            if point is None:
                self.counts["invalid"] += 1
                self.feedback.append(f"{proposal['steps']}: {why_not}")
            else:
                self.queue.append((point, proposal.get("rationale") or "proposed by the LLM (no rationale given)"))

    def _ask_llm(self, number: int) -> dict[str, Any]:
        chat = messages(self.run, self.proposals, self.feedback)
        record: dict[str, Any] = {"round": number, "backend": self.backend.describe(), "messages": chat}
        started, errors = time.time(), []
        for attempt in range(1, ATTEMPTS + 1):
            record["attempts"] = attempt
            try:
                reply = self.backend.propose(chat, self.proposals, self.space)
            except MalformedReply as exc:  # asked again: a sampled reply may do better
                errors.append(str(exc))
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                if not self.backend.transient(exc):
                    break
            else:
                record.update(
                    reply=reply.text,
                    strategies=reply.strategies,
                    prompt_tokens=reply.prompt_tokens,
                    completion_tokens=reply.completion_tokens,
                )
                break
            if attempt < ATTEMPTS:
                time.sleep(BACKOFF_S * 2 ** (attempt - 1))
        if errors:
            record["errors"] = errors
        if "reply" not in record:  # nevergrad proposes this round
            record.update(strategies=[], error=errors[-1] if errors else "no reply")
        record["seconds"] = round(time.time() - started, 2)
        return record
