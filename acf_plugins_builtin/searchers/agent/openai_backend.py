"""Any OpenAI-compatible chat endpoint (OpenAI, vLLM, llama.cpp's server, Ollama), through the `openai` package."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from acf import AcfError
from acf.toolkit import import_backend

from .prompt import check_endpoint, parse_reply

TIMEOUT_S = 120.0
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "0.0.0.0")


@dataclass
class Reply:
    text: str
    strategies: list[dict[str, Any]]
    prompt_tokens: int
    completion_tokens: int


class OpenAIBackend:
    """Chat completions at `endpoint` with `model`; the API key comes from the environment variable `key_env`
    (required unless the endpoint is on this machine) and is never recorded."""

    kind = "openai"

    def __init__(self, endpoint: str, model: str | None, key_env: str, timeout_s: float | None = None):
        check_endpoint(endpoint)
        url = urlparse(endpoint)
        local = url.hostname in LOCAL_HOSTS
        key = os.environ.get(key_env)
        if not key and not local:
            raise AcfError(
                f"--llm-endpoint {endpoint} needs an API key in the environment variable {key_env}",
                hint=f"export {key_env}=… (or name another variable with --llm-key-env)",
            )
        if not model:
            raise AcfError("--llm-endpoint needs --llm-model (the model name the endpoint serves)")
        try:
            socket.create_connection(
                (url.hostname, url.port or (443 if url.scheme == "https" else 80)), timeout=10
            ).close()
        except OSError as exc:
            raise AcfError(f"cannot reach --llm-endpoint {endpoint}: {exc.strerror or exc}") from None
        self.openai = import_backend("openai", extra="agent", purpose="--searcher agent with --llm-endpoint")
        self.client = self.openai.OpenAI(
            base_url=endpoint, api_key=key or "unused", timeout=timeout_s or TIMEOUT_S, max_retries=0
        )  # acf retries, with back-off, and records each try
        self.endpoint, self.model = endpoint, model

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "endpoint": self.endpoint, "model": self.model}

    def propose(self, messages: list[dict[str, str]], n: int, space: Any) -> Reply:
        response = self.client.chat.completions.create(
            model=self.model, messages=messages, temperature=0.2, max_tokens=300 * n
        )
        text = response.choices[0].message.content or ""
        usage = response.usage
        return Reply(
            text,
            parse_reply(text),
            getattr(usage, "prompt_tokens", 0) or 0,
            getattr(usage, "completion_tokens", 0) or 0,
        )

    def transient(self, exc: Exception) -> bool:
        """Errors worth another try: timeouts, rate limits, server errors, a lost connection."""
        errors = (
            self.openai.APITimeoutError,
            self.openai.RateLimitError,
            self.openai.APIConnectionError,
            self.openai.InternalServerError,
        )
        return isinstance(exc, errors)
