"""A minimal client for OpenAI-compatible chat endpoints (`POST {url}/chat/completions`), standard
library only. Every system here that asks a model something speaks through it: the TTRL variant
strategy, MathScale's concept extraction and generation, and the WE-Math endpoint runner.

What comes back is untrusted text: callers parse it themselves. Transient failures (connection
errors, 429, 5xx) are retried with exponential backoff; everything else is an `LLMError` naming the
endpoint, never a traceback.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import time
import urllib.error
import urllib.request
from typing import Protocol

log = logging.getLogger(__name__)

MAX_TEXT = 100_000  # characters of a response considered (the rest is dropped unread)
MAX_BODY = 4_000_000  # bytes of an HTTP body read (a longer one fails to parse: an LLMError)


class EndpointSettings(Protocol):
    """What the client needs of a config (LLMConfig and the other systems' configs all have it)."""

    url: str  # base of the API, e.g. http://127.0.0.1:8000/v1
    model: str
    api_key_env: str  # the environment variable holding the key (read per request); "" = none
    max_tokens: int
    timeout_s: float
    retries: int  # extra attempts after a connection error, a 429 or a 5xx


class LLMError(RuntimeError):
    """The endpoint could not be used: unreachable, an HTTP error, or a body that is not the API's JSON."""


class LLMClient:
    """One POST per call, retried on transient failures."""

    def __init__(self, cfg: EndpointSettings, backoff_s: float = 1.0) -> None:
        if not cfg.url:
            raise ValueError("LLMClient needs a url (the endpoint is off)")
        self.cfg = cfg
        self.endpoint = cfg.url.rstrip("/") + "/chat/completions"
        self.backoff_s = backoff_s

    def complete(self, messages: list[dict], temperature: float, n: int = 1) -> list[str]:
        """The contents of the response's choices (non-text choices dropped)."""
        body = {"model": self.cfg.model, "messages": messages, "temperature": float(temperature),
                "max_tokens": self.cfg.max_tokens}
        if n != 1:  # left out by default: not every compatible server accepts it
            body["n"] = n
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.cfg.api_key_env, "") if self.cfg.api_key_env else ""
        if key:
            headers["Authorization"] = f"Bearer {key}"
        data = json.dumps(body).encode()
        for attempt in range(self.cfg.retries + 1):
            try:
                return _choices(self._post(data, headers), self.endpoint)
            except _Transient as e:
                if attempt == self.cfg.retries:
                    raise LLMError(f"{self.endpoint}: {e} (after {attempt + 1} attempts)") from None
                log.debug("%s: %s; retrying", self.endpoint, e)
                time.sleep(self.backoff_s * 2**attempt)
        raise AssertionError("unreachable")

    def _post(self, data: bytes, headers: dict[str, str]) -> bytes:
        request = urllib.request.Request(self.endpoint, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.cfg.timeout_s) as response:
                return response.read(MAX_BODY)
        except urllib.error.HTTPError as e:
            message = f"HTTP {e.code} {e.reason}"
            if e.code == 429 or e.code >= 500:
                raise _Transient(message) from None
            raise LLMError(f"{self.endpoint}: {message}") from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as e:  # refused, timed out, reset, not HTTP
            raise _Transient(f"request failed ({getattr(e, 'reason', e)})") from None


class _Transient(Exception):
    """A failure worth another attempt (connection, 429, 5xx)."""


def _choices(raw: bytes, endpoint: str) -> list[str]:
    try:
        payload = json.loads(raw.decode("utf-8", errors="replace"))
        choices = payload["choices"]
        if not isinstance(choices, list):
            raise TypeError("choices is not a list")
    except (ValueError, KeyError, TypeError) as e:
        raise LLMError(f"{endpoint}: the response is not chat-completion JSON ({type(e).__name__}: {str(e)[:80]})") from None
    out = []
    for choice in choices:
        message = choice.get("message") if isinstance(choice, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            out.append(content[:MAX_TEXT])
    return out


def check_endpoint(url: str, model: str, where: str = "llm") -> None:
    """The shared validation of an endpoint's url and model (ValueError: a config error)."""
    if url and not re.match(r"https?://[^\s/]+", url):
        raise ValueError(f"{where} url must start with http:// or https:// (or be empty: off), got {url!r}")
    if url and not model:
        raise ValueError(f"{where} url {url!r} is set but model is empty")
