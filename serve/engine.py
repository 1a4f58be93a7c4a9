"""The inference engine: one per process, shared by the HTTP API and the chat UI.

* A queue and one worker thread own the model; that thread sets torch's CPU threads (`--threads`,
  default every core) for itself, as OpenMP settings are per thread.
* Batching: the worker takes the oldest waiting request and every other waiting request with the
  same sampling settings (greedy, or the same temperature and top-p), streamed or not, up to
  `max_batch_size` rows (a request with `n` choices is `n` rows), and runs them as one left-padded
  `generate`; rows differ in prompt, media, `max_tokens`, stop strings and log-probs. Requests with
  a `seed` and `guided_choice` requests run alone.
* Streaming: every request is streamed internally (`Delta` events per choice); clients that did
  not ask for a stream just collect them.
* Cancellation: `handle.cancel()` (a client went away, the UI's stop button) ends that row at the
  next step; a queued request is dropped before it touches the model.
* Limits: concurrent requests (429 past the cap), prompt + completion length, `max_tokens`.
* Everything about the model is `emollm.inference.InferenceCore`'s (shared with evaluation and
  `predict`): encoding a clip into an in-memory LRU `FeatureCache` (a second turn about the same
  clip neither decodes nor encodes it, and gets the same features as the first), the prompt ids,
  the batch (the processor's own `__call__`), the stop ids and `generate`. The engine only
  schedules, streams and cancels.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import LogitsProcessorList, StoppingCriteriaList

from data_pipeline.errors import MediaError
from emollm.feature_cache import FeatureCache
from emollm.inference import InferenceCore, load_model_dir, use_threads
from serve.choice import choice_logprobs, pick_choice, score_choices
from serve.decoding import (
    Delta,
    EosBlocker,
    Finished,
    LogprobRecorder,
    Row,
    RowsFinished,
    RowStreamer,
    SamplingParams,
)
from serve.errors import APIError, bad_request
from serve.metrics import EngineMetrics
from serve.request import Done, EngineRequest, Failed, MediaInputs, RequestHandle, Started

__all__ = ["Done", "Engine", "EngineLimits", "EngineRequest", "Failed", "MediaInputs", "RequestHandle", "Started"]

logger = logging.getLogger(__name__)


@dataclass
class EngineLimits:
    max_model_len: int | None = None  # prompt + completion; default: the LLM's position limit
    max_tokens: int | None = None  # most tokens one request may generate
    max_batch_size: int = 8  # rows per generate call
    max_concurrent_requests: int = 64  # queued + running; more -> 429
    max_frames: int | None = None  # lower the frames sampled per video (default: the model's)
    feature_cache_bytes: int = 512 * 2**20  # 0 turns the feature cache off
    threads: int | None = None  # torch intra-op threads (default: every core)

    @property
    def torch_threads(self) -> int:
        return self.threads or os.cpu_count() or 1


@dataclass
class _Prepared:
    handle: RequestHandle
    ids: list[int]
    clip: object | None
    max_tokens: int


class Engine:
    def __init__(self, model, processor, limits: EngineLimits | None = None, model_name: str = "emollm"):
        self.limits = limits or EngineLimits()
        self.model_name = model_name
        if self.limits.max_frames:
            processor.num_frames = min(processor.num_frames, self.limits.max_frames)
        self.max_model_len = self.limits.max_model_len or model.config.text_config.max_position_embeddings
        cache_bytes = self.limits.feature_cache_bytes
        self.core = InferenceCore(model, processor, FeatureCache(directory=None, max_bytes=cache_bytes or None,
                                                                  enabled=cache_bytes > 0))
        self.model, self.processor, self.tokenizer = self.core.model, processor, processor.tokenizer
        self.cache, self.fingerprint = self.core.cache, self.core.fingerprint
        self.eos_ids = set(self.core.stop_ids)
        self.metrics = EngineMetrics(model_name)
        self._waiting: deque[RequestHandle] = deque()
        self._inflight = 0
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="emollm-engine", daemon=True)
        self._thread.start()

    @classmethod
    def from_pretrained(cls, model_dir: str | os.PathLike, limits: EngineLimits | None = None,
                        model_name: str | None = None, dtype=None, quantization: str | None = None,
                        compile_decode: bool = False, compile_towers: bool = False, cpu_optimizations: bool = True) -> Engine:
        """`dtype`: a torch dtype to load the weights in; None keeps the dtype they were saved in.
        `quantization`: `--quantization` for the LLM; `compile_decode`: the static cache + compiled step;
        `compile_towers`: the vision towers compiled (emollm.compiled_towers); `cpu_optimizations`:
        emollm.cpu_inference for the parts that are not compiled.

        The model is loaded and prepared in a thread of its own that then exits. OpenMP gives each
        thread that runs parallel work a team of threads, kept until that thread ends; a team left in
        the caller's thread makes libgomp count more threads than cores, and it then spins only briefly
        at each barrier before sleeping, which slowed the engine thread's decoding by 25-35 % on 2
        cores (int4, measured). A thread that ends takes its team with it."""
        limits = limits or EngineLimits()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="emollm-load") as loader:
            return loader.submit(cls._load, model_dir, limits, model_name, dtype, quantization, compile_decode,
                                 compile_towers, cpu_optimizations).result()

    @classmethod
    def _load(cls, model_dir, limits: EngineLimits, model_name, dtype, quantization, compile_decode, compile_towers,
              cpu_optimizations) -> Engine:
        from emollm.fast_generate import DEFAULT_MAX_CACHE_LEN, enable_compiled_decoding, warm_up
        from emollm.quantization import quantize_llm

        use_threads(limits.torch_threads)
        model, processor = load_model_dir(model_dir, **({"dtype": dtype} if dtype is not None else {}))
        quantize_llm(model, quantization)
        if compile_decode:
            # the static cache holds the longest request the server accepts: one graph serves them all
            limits.max_model_len = limits.max_model_len or DEFAULT_MAX_CACHE_LEN
            enable_compiled_decoding(model, limits.max_model_len)
            warm_up(model, processor.tokenizer.pad_token_id or 0)
        engine = cls(model, processor, limits, model_name or Path(model_dir).name)  # hashes the towers' weights
        if cpu_optimizations:
            from emollm.compiled_towers import VISION_TOWERS
            from emollm.cpu_inference import optimize_for_cpu

            optimize_for_cpu(engine.model, llm=not compile_decode,
                             towers=[n for n in engine.model.towers if not (compile_towers and n in VISION_TOWERS)])
        if compile_towers:  # after __init__ applied --max-frames; no request can arrive before this returns
            from emollm.compiled_towers import compile_vision_towers

            compile_vision_towers(engine.model, engine.processor)
        return engine

    # --- public ------------------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        return not self._closed and self._thread.is_alive()

    def submit(self, request: EngineRequest, sink: Callable[[object], None] | None = None) -> RequestHandle:
        """Queue a request; raises APIError (429 over the concurrency cap, 503 when stopped, 400 for
        limits that need no model)."""
        self._check_params(request.params)
        handle = RequestHandle(request, sink)
        with self._cond:
            if not self.alive:
                raise APIError(503, "the engine is not running", code="engine_stopped")
            if self._inflight >= self.limits.max_concurrent_requests:
                self.metrics.labels(self.metrics.failed, code="too_many_requests").inc()
                raise APIError(429, f"the server is busy: {self._inflight} requests in flight, the limit is "
                               f"{self.limits.max_concurrent_requests} (--max-concurrent-requests); retry later",
                               code="too_many_requests")
            self._inflight += 1
            self._waiting.append(handle)
            self.metrics.labels(self.metrics.waiting).set(len(self._waiting))
            self._cond.notify()
        return handle

    def close(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._closed = True
            for handle in self._waiting:
                handle.cancel()
            self._cond.notify_all()
        self._thread.join(timeout)

    # --- worker ------------------------------------------------------------------------------
    def _run(self) -> None:
        use_threads(self.limits.torch_threads)  # in the thread that runs the model
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            try:
                self._process(batch)
            except Exception as error:  # the worker never dies with a request
                logger.exception("engine batch failed")
                for handle in batch:
                    if not handle.closed:
                        self._fail(handle, APIError(500, f"internal error while generating: {error}",
                                                    code="internal_error", type="server_error"))

    def _next_batch(self) -> list[RequestHandle] | None:
        with self._cond:
            while not self._waiting and not self._closed:
                self._cond.wait()
            if self._closed:
                for handle in self._waiting:
                    self._fail(handle, APIError(503, "the server is shutting down", code="engine_stopped"))
                self._waiting.clear()
                return None
            first = self._waiting.popleft()
            batch, rows, key = [first], first.request.params.n, first.request.params.batch_key()
            if key is not None:
                for handle in list(self._waiting):
                    params = handle.request.params
                    if params.batch_key() == key and rows + params.n <= self.limits.max_batch_size:
                        self._waiting.remove(handle)
                        batch.append(handle)
                        rows += params.n
            self.metrics.labels(self.metrics.waiting).set(len(self._waiting))
            return batch

    def _process(self, batch: list[RequestHandle]) -> None:
        prepared = []
        for handle in batch:
            if handle.cancelled:
                self._close(handle, "abort")
                continue
            try:
                prepared.append(self._prepare(handle))
            except APIError as error:
                self._fail(handle, error)
        if not prepared:
            return
        self.metrics.labels(self.metrics.running).set(len(prepared))
        try:
            if prepared[0].handle.request.params.guided_choice:
                self._choose(prepared[0])
            else:
                self._generate(prepared)
        finally:
            self.metrics.labels(self.metrics.running).set(0)
        for item in prepared:
            self._close(item.handle)

    def _prepare(self, handle: RequestHandle) -> _Prepared:
        request = handle.request
        clip, decoded, hit = None, None, None
        if request.media.any():
            clip, decoded = self._encode(request.media)
            hit = decoded is None
            self.metrics.labels(self.metrics.cache_hits if hit else self.metrics.cache_misses).inc()
        if request.messages is not None:
            ids = self.core.prompt_ids(request.messages, clip)
        elif isinstance(request.prompt, str):
            ids = self.tokenizer(request.prompt, add_special_tokens=False)["input_ids"]
        else:
            ids = list(request.prompt or [])
        if not ids:
            raise bad_request("the prompt is empty", "prompt", "empty_prompt")
        max_tokens = self._max_tokens(len(ids), request.params)
        handle.prompt_tokens = len(ids)
        handle.push(Started(len(ids), decoded, hit))
        return _Prepared(handle, ids, clip, max_tokens)

    def _encode(self, media: MediaInputs):
        clip = media.clip
        try:
            return self.core.encode(clip)
        except MediaError as error:
            kind = next((k for k in ("video", "image", "audio") if getattr(clip, k) == str(error.path)),
                        "video" if clip.video else "image" if clip.image else "audio")
            param = media.params.get(kind, kind)
            raise bad_request(f"{param}: the {kind} can't be decoded: {error.reason}", param, "invalid_media") from None

    def _max_tokens(self, prompt_tokens: int, params: SamplingParams) -> int:
        room = self.max_model_len - prompt_tokens
        wanted = params.max_tokens or min(room, self.limits.max_tokens or room)
        if room < 1 or wanted > room:
            raise bad_request(
                f"This model's maximum context length is {self.max_model_len} tokens. However, you requested "
                f"{prompt_tokens + max(wanted, 1)} tokens ({prompt_tokens} in the messages, {max(wanted, 1)} in "
                "the completion). Please reduce the length of the messages or completion.",
                "messages", "context_length_exceeded")
        return wanted

    def _check_params(self, params: SamplingParams) -> None:
        cap = self.limits.max_tokens
        if cap and params.max_tokens and params.max_tokens > cap:
            raise bad_request(f"max_tokens={params.max_tokens} is over this server's limit of {cap} (--max-tokens)",
                              "max_tokens", "max_tokens_too_large")
        if params.n > self.limits.max_batch_size:
            raise bad_request(f"n={params.n} is over this server's limit of {self.limits.max_batch_size} choices "
                              "(--max-batch-size)", "n", "too_many_choices")

    def _generate(self, prepared: list[_Prepared]) -> None:
        rows, prompts, clips = [], [], []
        for item in prepared:
            params = item.handle.request.params
            for choice in range(params.n):
                rows.append(Row(item.handle, item.handle.request.choice_offset + choice, item.max_tokens, params,
                                self.tokenizer, self.eos_ids))
                prompts.append(item.ids)
                clips.append(item.clip)
        batch = self.core.batch(prompts, clips)
        recorder = LogprobRecorder() if any(row.params.logprobs for row in rows) else None
        processors = [recorder] if recorder else []
        if any(row.params.ignore_eos or row.params.min_tokens for row in rows):
            processors.append(EosBlocker(rows, self.eos_ids))
        params = prepared[0].handle.request.params
        sampling = {"do_sample": True, "temperature": params.temperature, "top_p": params.top_p,
                    "top_k": 0} if params.do_sample else {"do_sample": False}
        self.metrics.labels(self.metrics.batch_rows).observe(len(rows))
        with torch.random.fork_rng(devices=[]):
            if params.seed is not None:
                torch.manual_seed(params.seed)
            self.core.generate(
                batch, **sampling, max_new_tokens=max(row.max_tokens for row in rows),
                streamer=RowStreamer(rows, self.tokenizer, recorder),
                stopping_criteria=StoppingCriteriaList([RowsFinished(rows)]),
                logits_processor=LogitsProcessorList(processors))

    def _choose(self, item: _Prepared) -> None:
        params = item.handle.request.params
        end = [self.core.end_of_turn]
        answers = [self.tokenizer(c, add_special_tokens=False)["input_ids"] for c in params.guided_choice]
        batch = dict(self.core.batch([item.ids], [item.clip]))
        input_ids, attention_mask = batch.pop("input_ids"), batch.pop("attention_mask")
        with torch.inference_mode():
            scores, logprobs = score_choices(self.model, input_ids, attention_mask, batch,
                                             [a + end for a in answers], self.core.pad_id)
        for choice in range(params.n):
            seed = None if params.seed is None else params.seed + choice
            pick = pick_choice(scores, params.temperature, seed)
            index = item.handle.request.choice_offset + choice
            lp = choice_logprobs(self.tokenizer, logprobs[pick], answers[pick], params.top_logprobs) \
                if params.logprobs else None
            item.handle.push(Delta(index, params.guided_choice[pick], answers[pick], lp))
            item.handle.push(Finished(index, "stop", len(answers[pick]) + len(end)))

    # --- bookkeeping ---------------------------------------------------------------------------
    def _close(self, handle: RequestHandle, reason: str | None = None) -> None:
        if handle.closed:
            return
        handle.closed = True
        m = self.metrics
        m.labels(m.prompt_tokens).inc(handle.prompt_tokens)
        m.labels(m.generation_tokens).inc(handle.completion_tokens)
        m.labels(m.finished, finished_reason=reason or ("abort" if handle.cancelled else "done")).inc()
        if handle.first_token_at is not None:
            m.labels(m.ttft).observe(handle.first_token_at - handle.created)
        m.labels(m.e2e).observe(time.monotonic() - handle.created)
        handle.push(Done(handle.prompt_tokens, handle.completion_tokens))
        self._release()

    def _fail(self, handle: RequestHandle, error: APIError) -> None:
        if handle.closed:
            return
        handle.closed = True
        self.metrics.labels(self.metrics.failed, code=str(error.code or error.status)).inc()
        handle.push(Failed(error))
        self._release()

    def _release(self) -> None:
        with self._cond:
            self._inflight -= 1
