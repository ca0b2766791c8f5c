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
from .prompt import MalformedReply, own_words

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

    def propose(self, messages: list[dict[str, str]], n: int, space: Any) -> Reply:
        self._load()
        reply = ReplyWriter(self.model, self.tokenizer, chat_text(self.tokenizer, messages))
        prefix = '{"strategies": [{"pipeline": '
        pipelines = space.get("pipeline").options
        scores = reply.score(prefix, pipelines)
        ranked = sorted(range(len(pipelines)), key=lambda i: -scores[i])[:n]
        strategies = []
        for i in ranked:
            point = {"pipeline": pipelines[i]}
            text = prefix + json.dumps(pipelines[i])
            for p in space.params:
                if p.name == "pipeline" or not p.is_active(point):
                    continue
                text += f', "{p.name}": '
                options = p.options if isinstance(p, Choice) else p.levels(LEVELS)
                values = reply.score(text, options)
                point[p.name] = options[max(range(len(options)), key=lambda k: values[k])]
                text += json.dumps(point[p.name])
            rationale = reply.generate(text + ', "rationale": "', RATIONALE_TOKENS, stop='"')
            strategies.append(
                {"steps": point_to_strategy(point).model_dump(mode="json")["steps"], "rationale": own_words(rationale)}
            )
        return Reply(json.dumps({"strategies": strategies}), strategies, len(reply.ids), reply.used)

    def transient(self, exc: Exception) -> bool:
        return False


class ReplyWriter:
    """The reply being written after one chat: the chat's key/value cache is computed once, and every choice and
    the rationale are scored or generated from it (a round costs one pass over the chat, not one per choice)."""

    def __init__(self, model: Any, tokenizer: Any, chat: str):
        import torch

        from acf.toolkit import model_device

        self.model, self.tokenizer, self.chat = model, tokenizer, chat
        self.device = model_device(model)
        self.ids = tokenizer(chat)["input_ids"]
        self.used = 0  # tokens scored or generated after the chat
        with torch.inference_mode():
            out = model(input_ids=torch.tensor([self.ids], device=self.device), use_cache=True)
        self.cache, self.last = out.past_key_values, out.logits[0, -1].float()

    def _logits(self, ids: list[int]):
        """Next-token logits at each position from the chat's end through `ids` (len(ids) + 1 rows); the cache
        is left as the chat's."""
        import torch

        self.used += len(ids)
        if not ids:
            return self.last[None]
        with torch.inference_mode():
            out = self.model(
                input_ids=torch.tensor([ids], device=self.device), past_key_values=self.cache, use_cache=True
            )
        self._rewind()
        return torch.cat([self.last[None], out.logits[0].float()])

    def _rewind(self) -> None:
        """Back to the chat's cache: the tokens run after it removed."""
        extra = self.cache.get_seq_length() - len(self.ids)
        if extra > 0:
            self.cache.crop(-extra)

    def _split(self, text: str, option: str) -> tuple[list[int], list[int]]:
        """The reply's tokens after the chat up to `text`, and the option's (split as continuations are scored)."""
        from acf.toolkit import split_pair

        context, continuation = split_pair(self.tokenizer, self.chat + text, option)
        if context[: len(self.ids)] != self.ids:  # the chat's last token merged with the reply's first
            raise MalformedReply("the reply's text does not tokenize after the chat's")
        return context[len(self.ids) :], continuation

    def score(self, text: str, options: list[Any]) -> list[float]:
        """Each option's mean log-probability per token after `text`, as JSON."""
        scores = []
        for option in options:
            own, continuation = self._split(text, json.dumps(option))
            logprobs = self._logits(own + continuation[:-1]).log_softmax(-1)
            scores.append(sum(logprobs[len(own) + j, t].item() for j, t in enumerate(continuation)) / len(continuation))
        return scores

    def generate(self, text: str, max_tokens: int, stop: str) -> str:
        """Greedy text after `text`, up to `stop` (not included)."""
        import torch

        own, _ = self._split(text, "")
        feed, out = own, []
        with torch.inference_mode():
            for _ in range(max_tokens):
                if feed:
                    logits = self.model(
                        input_ids=torch.tensor([feed], device=self.device), past_key_values=self.cache, use_cache=True
                    ).logits[0, -1]
                else:
                    logits = self.last
                self.used += len(feed)
                token = int(logits.argmax())
                if token == self.tokenizer.eos_token_id:
                    break
                out.append(token)
                if stop in self.tokenizer.decode(out):
                    break
                feed = [token]
        self._rewind()
        return self.tokenizer.decode(out).split(stop)[0]
