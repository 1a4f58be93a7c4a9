"""Engine events -> OpenAI responses: whole (`chat.completion`, `text_completion`) or as SSE
chunks ending in `data: [DONE]`, with the chain of empathy in `reasoning` (vLLM's current name) and
in `reasoning_content` (its former one, kept while clients move)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator

from emollm.metrics import split_reasoning
from serve.convert import chat_logprobs, completion_logprobs
from serve.decoding import Delta, Finished
from serve.engine import Engine
from serve.errors import APIError
from serve.protocol import (
    AssistantMessage,
    ChatChoice,
    ChatCompletionChunk,
    ChatCompletionResponse,
    ChunkChoice,
    CompletionChoice,
    CompletionResponse,
    DeltaMessage,
    Usage,
)
from serve.reasoning import ReasoningStream
from serve.request import Done, EngineRequest, Failed, Started

DISCONNECT_POLL_SECONDS = 0.5


class EventStream:
    """The events of one or more engine requests (a completion may have several prompts), read
    from an asyncio queue the engine thread fills; `started()` waits until every request has been
    prepared (media decoded, prompt checked) so errors can still become a 4xx response."""

    def __init__(self, engine: Engine, requests: list[EngineRequest], is_disconnected=None):
        loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue = asyncio.Queue()
        self.is_disconnected = is_disconnected
        self.next_check = time.monotonic() + DISCONNECT_POLL_SECONDS
        self.handles = []
        self.buffer: list = []
        self.prompt_tokens = self.completion_tokens = 0
        try:
            for request in requests:
                self.handles.append(engine.submit(request, lambda e: loop.call_soon_threadsafe(self.queue.put_nowait, e)))
        except APIError:
            self.cancel()
            raise
        self.open = len(self.handles)

    def cancel(self) -> None:
        for handle in self.handles:
            handle.cancel()

    async def _get(self):
        """The next event; every DISCONNECT_POLL_SECONDS (busy or not) check that a non-streaming
        client is still there, and cancel its generation when it is gone."""
        while True:
            if self.is_disconnected is not None and time.monotonic() >= self.next_check:
                self.next_check = time.monotonic() + DISCONNECT_POLL_SECONDS
                if await self.is_disconnected():
                    self.cancel()
                    raise APIError(499, "the client closed the request", code="client_closed_request")
            try:
                return await asyncio.wait_for(self.queue.get(), DISCONNECT_POLL_SECONDS)
            except TimeoutError:
                continue

    async def started(self) -> None:
        waiting = len(self.handles)
        while waiting:
            event = await self._get()
            if isinstance(event, Failed):
                self.cancel()
                raise event.error
            waiting -= isinstance(event, Started)
            self.buffer.append(event)

    async def __aiter__(self) -> AsyncIterator:
        while self.open:
            event = self.buffer.pop(0) if self.buffer else await self._get()
            if isinstance(event, Failed):
                self.cancel()
                raise event.error
            if isinstance(event, Done):
                self.open -= 1
                self.prompt_tokens += event.prompt_tokens
                self.completion_tokens += event.completion_tokens
            yield event

    def usage(self) -> Usage:
        return Usage(prompt_tokens=self.prompt_tokens, completion_tokens=self.completion_tokens,
                     total_tokens=self.prompt_tokens + self.completion_tokens)


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def sse(payload) -> str:
    body = payload if isinstance(payload, str) else payload.model_dump_json(exclude_none=True)
    return f"data: {body}\n\n"


async def chat_response(stream: EventStream, model: str, n: int, logprobs: bool) -> ChatCompletionResponse:
    texts, entries, reasons = defaultdict(str), defaultdict(list), {}
    async for event in stream:
        if isinstance(event, Delta):
            texts[event.index] += event.text
            entries[event.index] += event.logprobs or []
        elif isinstance(event, Finished):
            reasons[event.index] = event.finish_reason
    choices = []
    for index in range(n):
        reasoning, reply = split_reasoning(texts[index])
        choices.append(ChatChoice(index=index, message=AssistantMessage(content=reply, reasoning=reasoning,
                                                                                 reasoning_content=reasoning),
                                  logprobs=chat_logprobs(entries[index]) if logprobs else None,
                                  finish_reason=reasons.get(index, "abort")))
    return ChatCompletionResponse(id=new_id("chatcmpl"), created=int(time.time()), model=model, choices=choices,
                                  usage=stream.usage())


async def chat_chunks(stream: EventStream, model: str, n: int, include_usage: bool) -> AsyncIterator[str]:
    meta = {"id": new_id("chatcmpl"), "created": int(time.time()), "model": model}
    splitters = {index: ReasoningStream() for index in range(n)}

    def chunk(index: int, delta: DeltaMessage, **fields) -> str:
        return sse(ChatCompletionChunk(**meta, choices=[ChunkChoice(index=index, delta=delta, **fields)]))

    try:
        for index in range(n):
            yield chunk(index, DeltaMessage(role="assistant", content=""))
        async for event in stream:
            if isinstance(event, Delta):
                reasoning, content = splitters[event.index].feed(event.text)
                if reasoning or content or event.logprobs:
                    yield chunk(event.index, _delta(reasoning, content),
                                logprobs=chat_logprobs(event.logprobs) if event.logprobs else None)
            elif isinstance(event, Finished):
                reasoning, content = splitters[event.index].finish()
                if reasoning or content:
                    yield chunk(event.index, _delta(reasoning, content))
                yield chunk(event.index, DeltaMessage(), finish_reason=event.finish_reason)
        if include_usage:
            yield sse(ChatCompletionChunk(**meta, choices=[], usage=stream.usage()))
    except APIError as error:
        yield sse_error(error)
    finally:
        stream.cancel()  # no-op once finished; stops generation when the client went away
    yield sse("[DONE]")


def _delta(reasoning: str, content: str) -> DeltaMessage:
    return DeltaMessage(reasoning=reasoning or None, reasoning_content=reasoning or None, content=content or None)


def sse_error(error: APIError) -> str:
    import json

    return sse(json.dumps(error.body()))


async def completion_response(stream: EventStream, model: str, count: int, logprobs: bool,
                              echo_texts: list[str]) -> CompletionResponse:
    texts, entries, reasons = defaultdict(str), defaultdict(list), {}
    async for event in stream:
        if isinstance(event, Delta):
            texts[event.index] += event.text
            entries[event.index] += event.logprobs or []
        elif isinstance(event, Finished):
            reasons[event.index] = event.finish_reason
    choices = []
    for index in range(count):
        echo = echo_texts[index] if echo_texts else ""
        choices.append(CompletionChoice(
            index=index, text=echo + texts[index], finish_reason=reasons.get(index, "abort"),
            logprobs=completion_logprobs(entries[index], len(echo)) if logprobs else None))
    return CompletionResponse(id=new_id("cmpl"), created=int(time.time()), model=model, choices=choices,
                              usage=stream.usage())


async def completion_chunks(stream: EventStream, model: str, include_usage: bool,
                            echo_texts: list[str]) -> AsyncIterator[str]:
    meta = {"id": new_id("cmpl"), "created": int(time.time()), "model": model}
    offsets: dict[int, int] = defaultdict(int)

    def chunk(choice: CompletionChoice) -> str:
        return sse(CompletionResponse(**meta, choices=[choice]))

    try:
        for index, echo in enumerate(echo_texts):
            yield chunk(CompletionChoice(index=index, text=echo))
            offsets[index] = len(echo)
        async for event in stream:
            if isinstance(event, Delta) and (event.text or event.logprobs):
                logprobs = completion_logprobs(event.logprobs, offsets[event.index]) if event.logprobs else None
                offsets[event.index] += len(event.text)
                yield chunk(CompletionChoice(index=event.index, text=event.text, logprobs=logprobs))
            elif isinstance(event, Finished):
                yield chunk(CompletionChoice(index=event.index, text="", finish_reason=event.finish_reason))
        if include_usage:
            yield sse(CompletionResponse(**meta, choices=[], usage=stream.usage()))
    except APIError as error:
        yield sse_error(error)
    finally:
        stream.cancel()
    yield sse("[DONE]")
