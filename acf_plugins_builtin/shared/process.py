"""A worker process spoken to in JSON lines: the llama.cpp runtime's, and the one an exported Hugging Face folder is
reloaded in for `acf export`'s round trip. Out of acf's process, so that its memory is its own and a crash or a hang
is an error here, not a dead run."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import tempfile
from typing import Any

TIMEOUT_S = 600.0


class RuntimeProcess:
    """A worker process (`command`, e.g. `python -m …llamacpp_worker`): one JSON request per line, one JSON reply;
    `name` says which in its errors."""

    def __init__(self, timeout_s: float, command: list[str], name: str):
        self.timeout_s, self.name = timeout_s, name
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def request(self, op: str, timeout_s: float | None = None, **args: Any) -> dict[str, Any]:
        limit = timeout_s or self.timeout_s
        try:
            self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise RuntimeError(self._died(op)) from None
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            if not sel.select(limit):
                self.close()
                raise RuntimeError(f"{self.name} did not answer {op!r} within {limit:.0f} s (killed)")
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(self._died(op))
        reply = json.loads(line)
        if not reply.pop("ok"):
            raise RuntimeError(f"{self.name} failed in {op!r}: {reply['error']}")
        return reply

    def _died(self, op: str) -> str:
        code = self.proc.wait(timeout=10)
        self.stderr.seek(0)
        tail = self.stderr.read().decode(errors="replace").strip().splitlines()[-3:]
        return f"{self.name} process died during {op!r} (exit code {code}): {' | '.join(tail)}"

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.stderr.close()


def serve(worker: Any) -> int:
    """The worker side: each line of standard input a JSON request `{"op": NAME, …arguments}`, answered on standard
    output with `worker.NAME(**arguments)` as `{"ok": true, …}`, or `{"ok": false, "error": …}` with its real
    message; until standard input closes."""
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            op = request.pop("op")
            reply = {"ok": True, **getattr(worker, op)(**request)}
        except Exception as exc:  # every failure goes back to acf as the reply, with its real message
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
    return 0
