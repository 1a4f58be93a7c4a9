"""The OpenAI-style HTTP API, following vLLM's conventions, on FastAPI.

`/v1/models`, `/v1/chat/completions`, `/v1/completions`, `/tokenize`, `/detokenize` (also under
`/v1`; all behind `--api-key` when set), and `/health`, `/metrics`, `/version` (open). Every error is
`{"error": {"message", "type", "param", "code"}}` with its HTTP status, FastAPI's own validation
errors and malformed JSON included (400, as vLLM answers them).
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.exceptions import HTTPException as StarletteHTTPException

import emollm
from serve.convert import chat_input, sampling_params
from serve.engine import Engine
from serve.errors import APIError, bad_request
from serve.media_fetch import MediaFetcher, MediaPolicy
from serve.protocol import (
    ChatCompletionRequest,
    ChatCompletionResponse,
    CompletionRequest,
    CompletionResponse,
    DetokenizeRequest,
    DetokenizeResponse,
    ErrorResponse,
    HealthResponse,
    ModelCard,
    ModelList,
    TokenizeRequest,
    TokenizeResponse,
    VersionResponse,
)
from serve.request import EngineRequest
from serve.responses import EventStream, chat_chunks, chat_response, completion_chunks, completion_response

BEARER = HTTPBearer(auto_error=False, description="the server's --api-key")
ERROR_RESPONSES = {status: {"model": ErrorResponse} for status in (400, 401, 403, 404, 413, 429, 503)}


@dataclass
class APISettings:
    served_model_names: list[str] = field(default_factory=lambda: ["emollm"])
    api_key: str | None = None
    model_root: str | None = None
    media: MediaPolicy = field(default_factory=MediaPolicy)
    max_body_bytes: int | None = None  # default: room for the media caps, base64-encoded

    @property
    def body_limit(self) -> int:
        if self.max_body_bytes:
            return self.max_body_bytes
        kinds = max(sum(self.media.limit_mm_per_prompt.values()), 1)
        return int(self.media.max_media_bytes * 4 / 3 * kinds) + 4 * 2**20


def create_app(engine: Engine, settings: APISettings | None = None, fetcher: MediaFetcher | None = None) -> FastAPI:
    settings = settings or APISettings()
    fetcher = fetcher or MediaFetcher(settings.media)
    app = FastAPI(title="EmoLLM", version=emollm.__version__, responses=ERROR_RESPONSES,
                  description="OpenAI-style, vLLM-compatible API of a multimodal emotion LLM: video, image, audio "
                              "and text in; the chain of empathy comes back in `reasoning_content`.")
    app.state.engine, app.state.settings, app.state.fetcher = engine, settings, fetcher
    _install_error_handlers(app)
    _install_middleware(app, engine, settings)
    app.include_router(_system_routes(engine))
    app.include_router(_v1_routes(engine, settings, fetcher))
    _publish_limits(app, engine, settings)
    return app


def _publish_limits(app: FastAPI, engine: Engine, settings: APISettings) -> None:
    """Put this server's limits into its OpenAPI schema (`model` names, `max_tokens`, `n`, token
    ids below the vocabulary size), so a client generated from `/openapi.json` sends requests the
    server accepts."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schemas = build()["components"]["schemas"]
            max_tokens = min(engine.limits.max_tokens or engine.max_model_len, engine.max_model_len - 1)
            for name in ("ChatCompletionRequest", "CompletionRequest", "TokenizeRequest", "DetokenizeRequest"):
                _bound(schemas[name], "model", enum=list(settings.served_model_names))
            for name, fields in (("ChatCompletionRequest", ("max_tokens", "max_completion_tokens")),
                                 ("CompletionRequest", ("max_tokens",))):
                for key in fields:
                    _bound(schemas[name], key, maximum=max_tokens)
                _bound(schemas[name], "n", maximum=engine.limits.max_batch_size)
            for name, key in (("CompletionRequest", "prompt"), ("DetokenizeRequest", "tokens")):
                _bound_integers(schemas[name]["properties"][key], maximum=len(engine.tokenizer) - 1)
        return app.openapi_schema

    app.openapi = openapi


def _bound(model_schema: dict, field_name: str, **constraints) -> None:
    """Add constraints to a field's non-null type (pydantic writes `X | None` as anyOf [X, null])."""
    prop = model_schema["properties"][field_name]
    for option in prop.get("anyOf", [prop]):
        if option.get("type") != "null":
            option.update(constraints)


def _bound_integers(node, **constraints) -> None:
    """Add constraints to every integer schema inside `node` (token ids in nested arrays)."""
    if isinstance(node, dict):
        if node.get("type") == "integer":
            node.update(constraints)
        for value in node.values():
            _bound_integers(value, **constraints)
    elif isinstance(node, list):
        for value in node:
            _bound_integers(value, **constraints)


# --- errors --------------------------------------------------------------------------------------
def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def api_error(request: Request, error: APIError):
        return api_error_response(error)

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, error: Exception):  # still our shape, and logged by uvicorn
        return api_error_response(APIError(500, f"internal error: {type(error).__name__}: {error}",
                                           code="internal_error", type="server_error"))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError):
        return api_error_response(_validation_message(error.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException):
        if isinstance(error, BodyTooLarge):
            return api_error_response(_too_large(app.state.settings.body_limit))
        return api_error_response(APIError(error.status_code, f"{request.method} {request.url.path}: {error.detail}"))


def api_error_response(error: APIError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status)


def _validation_message(errors) -> APIError:
    first = errors[0]
    if first.get("type") == "json_invalid":
        reason = (first.get("ctx") or {}).get("error", first.get("msg"))
        where = first["loc"][1] if len(first.get("loc", ())) > 1 else "?"
        return bad_request(f"malformed JSON in the request body: {reason} (at character {where})", None, "invalid_json")
    if tuple(first.get("loc", ())) == ("body",) and isinstance(first.get("input"), bytes | str):
        return bad_request("the request body must be a JSON object, sent with Content-Type: application/json",
                           None, "invalid_json")
    # a `str | list[...]` field reports a mismatch for every union member: keep the informative ones
    informative = [e for e in errors if _loc_path(e.get("loc", ())) and not _union_branch_noise(e)] or errors
    problems = [f"{_loc_path(e.get('loc', ())) or 'body'}: {e.get('msg')}" for e in informative[:3]]
    return bad_request("; ".join(problems), _loc_path(informative[0].get("loc", ())) or None, "invalid_request")


def _loc_path(loc) -> str:
    """('body', 'messages', 0, 'content', 'list[...]', 1, 'video_url', 'video_url', 'url') ->
    'messages[0].content[1].video_url.url' (union-member names and repeated tags dropped)."""
    parts: list[str] = []
    for item in loc:
        if item == "body" and not parts:
            continue
        if isinstance(item, int):
            parts.append(f"[{item}]")
            continue
        item = str(item)
        if item in ("str", "int", "list[int]", "list[str]") or "[" in item or (parts and parts[-1] == f".{item}"):
            continue
        parts.append(f".{item}")
    return "".join(parts).lstrip(".")


def _union_branch_noise(error) -> bool:
    loc = [str(p) for p in error.get("loc", ())]
    return bool(loc) and loc[-1] in ("str", "int") and error.get("type", "").endswith("_type")


# --- middleware ----------------------------------------------------------------------------------
def _install_middleware(app: FastAPI, engine: Engine, settings: APISettings) -> None:
    app.add_middleware(_LimitAndCount, engine=engine, settings=settings)


class BodyTooLarge(StarletteHTTPException):
    def __init__(self):
        super().__init__(413, "request body too large")


class _LimitAndCount:
    """Refuse request bodies over the limit (declared or streamed) with a 413 in our error shape,
    and count requests by route and status. Plain ASGI: streams and disconnects pass untouched.
    (FastAPI's own `max_body_size` answers outside the app's error handlers, in another shape.)"""

    def __init__(self, app, engine: Engine, settings: APISettings):
        self.app, self.engine, self.limit = app, engine, settings.body_limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        status, received = {"code": 500}, {"bytes": 0}

        async def send_counting(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        async def receive_limited():
            message = await receive()
            received["bytes"] += len(message.get("body", b""))
            if received["bytes"] > self.limit:
                raise BodyTooLarge()
            return message

        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        try:
            if declared.isdigit() and int(declared) > self.limit:
                await api_error_response(_too_large(self.limit))(scope, receive, send_counting)
            else:
                await self.app(scope, receive_limited, send_counting)
        finally:
            route = getattr(scope.get("route"), "path", None)
            route = route or ("/ui" if scope.get("path", "").startswith("/ui") else "other")
            self.engine.metrics.http.labels(method=scope.get("method", ""), route=route,
                                            status=str(status["code"])).inc()


def _too_large(limit: int) -> APIError:
    return APIError(413, f"the request body is over the limit of {limit / 2**20:.1f} MiB (media are capped at "
                         "--max-media-bytes each)", code="request_too_large")


# --- routes --------------------------------------------------------------------------------------
def _system_routes(engine: Engine) -> APIRouter:
    router = APIRouter()

    @router.get("/health", response_model=HealthResponse)
    async def health():
        if not engine.alive:
            raise APIError(503, "the engine is not running", code="engine_stopped")
        return HealthResponse(status="ok")

    @router.get("/version", response_model=VersionResponse)
    async def version():
        return VersionResponse(version=emollm.__version__)

    @router.get("/metrics", response_class=Response)
    async def metrics():
        return Response(engine.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return router


def _v1_routes(engine: Engine, settings: APISettings, fetcher: MediaFetcher) -> APIRouter:
    async def require_key(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]):
        if not settings.api_key:
            return
        if credentials is None:
            raise APIError(401, "missing API key: send 'Authorization: Bearer <key>' (the server runs with --api-key)",
                           code="missing_api_key")
        if not hmac.compare_digest(credentials.credentials.encode(), settings.api_key.encode()):
            raise APIError(401, "wrong API key", code="invalid_api_key")

    def model_name(requested: str | None) -> str:
        if requested and requested not in settings.served_model_names:
            raise APIError(404, f"The model `{requested}` does not exist; this server serves "
                           f"{', '.join(settings.served_model_names)}", param="model", code="model_not_found")
        return requested or settings.served_model_names[0]

    # /tokenize decodes media too: behind the key at the root as under /v1 (vLLM leaves the root open)
    keyed_root = APIRouter(dependencies=[Depends(require_key)])
    router = APIRouter(prefix="/v1", dependencies=[Depends(require_key)])

    @router.get("/models", response_model=ModelList)
    async def models():
        created = int(time.time())
        return ModelList(data=[ModelCard(id=name, created=created, root=settings.model_root,
                                         max_model_len=engine.max_model_len) for name in settings.served_model_names])

    @router.post("/chat/completions", response_model=ChatCompletionResponse,
                 responses={200: {"content": {"text/event-stream": {}}}})
    async def chat_completions(body: ChatCompletionRequest, request: Request):
        model = model_name(body.model)
        params = sampling_params(body, chat=True)
        chat = await run_in_threadpool(chat_input, body.messages, fetcher)
        try:
            stream = EventStream(engine, [EngineRequest(messages=chat.messages, media=chat.media, params=params)],
                                 None if body.stream else request.is_disconnected)
            await stream.started()  # media decoded and encoded: the temporary files can go
        finally:
            for media in chat.fetched:
                fetcher.release(media)
        if body.stream:
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            return StreamingResponse(chat_chunks(stream, model, params.n, include_usage), media_type="text/event-stream")
        return await chat_response(stream, model, params.n, params.logprobs)

    @router.post("/completions", response_model=CompletionResponse,
                 responses={200: {"content": {"text/event-stream": {}}}})
    async def completions(body: CompletionRequest, request: Request):
        model = model_name(body.model)
        params = sampling_params(body, chat=False, max_tokens_cap=engine.limits.max_tokens)
        prompts = _prompts(body.prompt, engine)
        requests = [EngineRequest(prompt=p, params=params, choice_offset=i * params.n) for i, p in enumerate(prompts)]
        echo = [_prompt_text(p, engine) for p in prompts for _ in range(params.n)] if body.echo else []
        stream = EventStream(engine, requests, None if body.stream else request.is_disconnected)
        await stream.started()
        if body.stream:
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            return StreamingResponse(completion_chunks(stream, model, include_usage, echo),
                                     media_type="text/event-stream")
        return await completion_response(stream, model, len(prompts) * params.n, params.logprobs, echo)

    @keyed_root.post("/tokenize", response_model=TokenizeResponse)
    async def tokenize(body: TokenizeRequest):
        model_name(body.model)
        if (body.prompt is None) == (body.messages is None):
            raise bad_request("send either prompt or messages", "prompt")
        if body.prompt is not None:
            _prompts(body.prompt, engine)
            tokens = engine.tokenizer(body.prompt, add_special_tokens=body.add_special_tokens)["input_ids"]
        else:
            tokens = await run_in_threadpool(_tokenize_chat, engine, fetcher, body)
        return TokenizeResponse(count=len(tokens), max_model_len=engine.max_model_len, tokens=tokens)

    @keyed_root.post("/detokenize", response_model=DetokenizeResponse)
    async def detokenize(body: DetokenizeRequest):
        model_name(body.model)
        vocab = len(engine.tokenizer)
        if any(not 0 <= t < vocab for t in body.tokens):
            raise bad_request(f"token ids must lie in [0, {vocab})", "tokens")
        return DetokenizeResponse(prompt=engine.tokenizer.decode(body.tokens))

    router.include_router(keyed_root)  # /v1/tokenize too
    outer = APIRouter()
    outer.include_router(router)
    outer.include_router(keyed_root)
    return outer


def _prompts(prompt, engine: Engine) -> list[str | list[int]]:
    from serve.convert import _checked_text

    if isinstance(prompt, str):
        prompts = [prompt]
    elif prompt and all(isinstance(p, int) for p in prompt):
        prompts = [list(prompt)]
    else:
        prompts = list(prompt)
    if not prompts:
        raise bad_request("prompt is empty", "prompt", "empty_prompt")
    reserved = set((engine.model.config.placeholder_token_ids or {}).values())
    vocab = len(engine.tokenizer)
    for index, item in enumerate(prompts):
        if isinstance(item, str):
            _checked_text(item, f"prompt[{index}]")
        elif any(not 0 <= t < vocab for t in item):
            raise bad_request(f"prompt[{index}]: token ids must lie in [0, {vocab})", "prompt", "invalid_token")
        elif reserved & set(item):
            raise bad_request(f"prompt[{index}]: holds reserved media placeholder token ids", "prompt", "reserved_token")
    return prompts


def _prompt_text(prompt, engine: Engine) -> str:
    return prompt if isinstance(prompt, str) else engine.tokenizer.decode(prompt)


class _Presence:
    """Stands in for a clip when only the placeholder layout is needed (`/tokenize`)."""

    def __init__(self, has_visual: bool, has_audio: bool):
        self.has_visual, self.has_audio = has_visual, has_audio


def _tokenize_chat(engine: Engine, fetcher: MediaFetcher, body: TokenizeRequest) -> list[int]:
    chat = chat_input(body.messages, fetcher)
    try:
        media = {m.kind: m for m in chat.fetched}
        video_sound = chat.media.clip.use_video_audio and "video" in media and media["video"].has_audio
        clip = _Presence(bool({"video", "image"} & media.keys()), "audio" in media or video_sound) if media else None
        text = engine.processor.render(chat.messages, clip, add_generation_prompt=body.add_generation_prompt)
        return engine.tokenizer(text, add_special_tokens=False)["input_ids"]
    finally:
        for item in chat.fetched:
            fetcher.release(item)
