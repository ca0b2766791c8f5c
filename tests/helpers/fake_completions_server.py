"""A stand-in for vLLM's OpenAI-compatible server in tests: `/health`, and streamed `/v1/completions` that send
one chunk per requested token, `DELAY` seconds apart. Run: python fake_completions_server.py PORT [MODE]
(MODE `error`: every completion streams an error object)."""

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DELAY = 0.01


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        if sys.argv[2:] == ["error"]:
            self.wfile.write(b'data: {"error": {"message": "out of memory"}}\n\n')
            return
        time.sleep(DELAY * len(request["prompt"]) / 100)  # a prefill that grows with the prompt
        for i in range(request["max_tokens"]):
            event = {"choices": [{"index": 0, "text": f" t{i}"}]}
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            self.wfile.flush()
            time.sleep(DELAY)
        self.wfile.write(b"data: [DONE]\n\n")


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
