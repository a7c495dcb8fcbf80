"""A TEST DOUBLE for OpenAI-compatible chat endpoints: a local HTTP server started by the test.

No real model runs in the tests. The double answers each POST either with the next canned
(status, body) in `replies`, or, when `respond` is set, with what `respond(request_body)` returns
(hand-written logic standing in for a model, e.g. "answer the gold letter"). Every request is recorded.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def chat(*contents) -> tuple[int, bytes]:
    """A 200 chat-completion body with one choice per content."""
    choices = [{"index": i, "message": {"role": "assistant", "content": c}} for i, c in enumerate(contents)]
    return 200, json.dumps({"object": "chat.completion", "choices": choices}).encode()


class Replay:
    """The double: a ThreadingHTTPServer on 127.0.0.1, an ephemeral port, `url` ending in /v1."""

    def __init__(self, respond: Callable[[dict], tuple[int, bytes]] | None = None) -> None:
        self.replies: list[tuple[int, bytes]] = []
        self.requests: list[dict] = []  # {"path", "headers", "body"}
        self.respond = respond
        self.lock = threading.Lock()
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = json.loads(raw)
                with replay.lock:
                    replay.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    if replay.respond is not None:
                        status, out = replay.respond(body)
                    else:
                        status, out = replay.replies.pop(0) if replay.replies else (503, b"no more replies")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args) -> None:  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)
        self.thread.start()

    def prompt(self, k: int) -> str:
        """The text of request k's last message (its text parts joined, for multimodal messages)."""
        content = self.requests[k]["body"]["messages"][-1]["content"]
        if isinstance(content, list):
            return "\n".join(p.get("text", "") for p in content if isinstance(p, dict))
        return content

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
