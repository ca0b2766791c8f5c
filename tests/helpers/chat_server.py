"""A real OpenAI-compatible chat-completions server for the agent searcher's tests, in its own process.

Usage: python chat_server.py PORT MODE — MODE `valid` answers with strategies made from what the prompt lists
(each allowed pipeline in turn, every parameter at the first value the prompt gives), `slow` sleeps past any
client timeout, `malformed` answers prose, `ratelimit` answers 429 to every other request and `valid` between.
Every request's body is appended to requests.jsonl beside this file's working directory.
"""

import json
import re
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, MODE = int(sys.argv[1]), sys.argv[2]
SEEN = {"requests": 0}


def strategies(prompt: str, n: int) -> list:
    pipelines = re.search(r"Allowed step orders \(pipelines\): (.*)", prompt)[1].split(", ")
    params = dict(re.findall(r"^- (\S+): one of (\[.*\])$", prompt, re.M))
    ranges = dict(re.findall(r"^- (\S+): (?:integer|number) from (\S+) to", prompt, re.M))
    out = []
    for i, pipeline in enumerate(pipelines[-n:]):
        steps = []
        for method in pipeline.split("+"):
            chosen = {}
            for name, options in params.items():
                if name.startswith(method + "."):
                    chosen[name.split(".", 1)[1]] = json.loads(options)[i % len(json.loads(options))]
            for name, low in ranges.items():
                if name.startswith(method + "."):
                    value = float(low)
                    chosen[name.split(".", 1)[1]] = int(value) if value.is_integer() else value
            steps.append({"method": method, "params": chosen})
        out.append({"steps": steps, "rationale": f"try {pipeline} at its first listed settings"})
    return out


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        SEEN["requests"] += 1
        with open("requests.jsonl", "a") as fh:
            fh.write(json.dumps({"authorization": self.headers.get("Authorization"), **body}) + "\n")
        if MODE == "slow":
            time.sleep(30)
        if MODE == "ratelimit" and SEEN["requests"] % 2 == 1:
            return self._send(429, {"error": {"message": "rate limited", "type": "rate_limit"}})
        prompt = body["messages"][-1]["content"]
        n = int(re.search(r"Propose up to (\d+)", prompt)[1])
        text = (
            "I think smaller is better." if MODE == "malformed" else json.dumps({"strategies": strategies(prompt, n)})
        )
        self._send(
            200,
            {
                "id": "c1",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
                "usage": {
                    "prompt_tokens": len(prompt) // 4,
                    "completion_tokens": len(text) // 4,
                    "total_tokens": (len(prompt) + len(text)) // 4,
                },
            },
        )

    def _send(self, code, payload):
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
