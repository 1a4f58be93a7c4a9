"""What is sent to the engine (`EngineRequest`: a conversation or a raw prompt, one clip's media,
sampling settings) and what comes back through a `RequestHandle`: `Started`, then `Delta`s and a
`Finished` per choice (from serve.decoding), then `Done`; or `Failed` with an `APIError`."""

from __future__ import annotations

import queue
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from data_pipeline.clip import Clip
from serve.decoding import Delta, Finished, SamplingParams
from serve.errors import APIError


@dataclass
class MediaInputs:
    """One request's clip, and the request part each of its files came from (for error messages)."""

    clip: Clip = field(default_factory=Clip)
    params: dict[str, str] = field(default_factory=dict)  # kind -> request part, e.g. messages[0].content[1]

    def any(self) -> bool:
        return not self.clip.empty


@dataclass
class EngineRequest:
    messages: list[dict] | None = None  # processor conversation (chat); or
    prompt: str | list[int] | None = None  # raw prompt text or token ids (completions)
    media: MediaInputs = field(default_factory=MediaInputs)
    params: SamplingParams = field(default_factory=SamplingParams)
    choice_offset: int = 0  # index of this request's first choice in the response


@dataclass
class Started:
    prompt_tokens: int
    media: object | None  # ClipMedia when the clip was decoded now; None on a cache hit or no media
    cache_hit: bool | None


@dataclass
class Failed:
    error: APIError


@dataclass
class Done:
    prompt_tokens: int
    completion_tokens: int


class RequestHandle:
    """A submitted request: its event stream (`Started`, `Delta`s and `Finished` per choice, then
    `Done`; or `Failed`) and its cancel switch. Events go to `sink` (e.g. an asyncio queue's
    thread-safe put) or to an internal queue read by `events()`."""

    def __init__(self, request: EngineRequest, sink: Callable[[object], None] | None = None):
        self.id = uuid.uuid4().hex
        self.request = request
        self.cancelled = False
        self.created = time.monotonic()
        self.first_token_at: float | None = None
        self.completion_tokens = 0
        self.prompt_tokens = 0
        self.closed = False
        self._sink = sink
        self._queue: queue.Queue = queue.Queue()

    def push(self, event) -> None:
        if isinstance(event, Delta) and self.first_token_at is None:
            self.first_token_at = time.monotonic()
        if isinstance(event, Finished):
            self.completion_tokens += event.completion_tokens
        (self._sink or self._queue.put)(event)

    def cancel(self) -> None:
        self.cancelled = True

    def events(self, timeout: float | None = None) -> Iterator:
        """Blocking iteration up to and including `Done` or `Failed` (the chat UI, benchmarks)."""
        while True:
            event = self._queue.get(timeout=timeout)
            yield event
            if isinstance(event, Done | Failed):
                return
