"""Pydantic models of the OpenAI-style API, with vLLM's extensions (`guided_choice`,
`reasoning_content`, `/tokenize`): they validate requests and give the OpenAPI schema, which states
what the server enforces (required fields, ranges, enums); the limits a server is started with
(`--max-tokens`, `--max-batch-size`, the served names) are filled in by `serve.api`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

TokenId = Annotated[int, Field(ge=0)]
NonEmptyText = Annotated[str, Field(min_length=1)]
PART_TYPES = ("text", "image_url", "video_url", "audio_url", "input_audio")


class OpenModel(BaseModel):
    """Unknown fields are accepted and ignored, as OpenAI and vLLM servers do."""

    model_config = ConfigDict(extra="allow")


# --- requests ----------------------------------------------------------------------------------
class URLRef(OpenModel):
    url: str = Field(description="A base64 `data:` URL, a `file://` URL under the allowed local media "
                                 "path, or (with --allow-remote-media) an http(s) URL")
    detail: str | None = None


class TextPart(OpenModel):
    type: Literal["text"]
    text: str


class ImageURLPart(OpenModel):
    type: Literal["image_url"]
    image_url: URLRef


class VideoURLPart(OpenModel):
    type: Literal["video_url"]
    video_url: URLRef


class AudioURLPart(OpenModel):
    type: Literal["audio_url"]
    audio_url: URLRef


class InputAudio(OpenModel):
    data: str = Field(description="base64-encoded audio file")
    format: str = Field("wav", description="file format, e.g. wav or mp3")


class InputAudioPart(OpenModel):
    type: Literal["input_audio"]
    input_audio: InputAudio


ContentPart = Annotated[TextPart | ImageURLPart | VideoURLPart | AudioURLPart | InputAudioPart,
                        Field(discriminator="type")]


class ChatMessage(OpenModel):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None
    reasoning: str | None = Field(None, description="ignored in requests: the chain of empathy is not fed back")
    reasoning_content: str | None = Field(None, description="ignored in requests: the chain of empathy "
                                                            "is not fed back")
    name: str | None = None

    @field_validator("content", mode="before")
    @classmethod
    def _known_part_types(cls, value: Any) -> Any:
        if isinstance(value, list):
            for index, part in enumerate(value):
                kind = part.get("type") if isinstance(part, dict) else None
                if kind not in PART_TYPES:
                    raise ValueError(f"unknown content part type {kind!r} in content[{index}]; "
                                     f"known types: {', '.join(PART_TYPES)}")
        return value


class StreamOptions(OpenModel):
    include_usage: bool = False


class _GenerationFields(OpenModel):
    model: str | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    n: int = Field(1, ge=1)
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    presence_penalty: float = Field(0.0, ge=0, le=0, description="only 0 is supported")
    frequency_penalty: float = Field(0.0, ge=0, le=0, description="only 0 is supported")
    guided_choice: list[NonEmptyText] | None = Field(None, min_length=1, description="vLLM: answer with exactly "
                                                                                      "one of these strings")
    structured_outputs: dict | None = Field(None, description='newer vLLM spelling: {"choice": [...]}')
    min_tokens: int = Field(0, ge=0, description="vLLM: no end of turn before this many tokens")
    ignore_eos: bool = Field(False, description="vLLM: keep generating until max_tokens or a stop string")
    extra_body: dict | None = Field(None, description="fields sent literally under extra_body are read too")
    user: str | None = None


class ChatCompletionRequest(_GenerationFields):
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    logprobs: bool = False
    top_logprobs: int | None = Field(None, ge=0, le=20)


class CompletionRequest(_GenerationFields):
    prompt: (str | Annotated[list[str], Field(min_length=1)] | Annotated[list[TokenId], Field(min_length=1)]
             | Annotated[list[Annotated[list[TokenId], Field(min_length=1)]], Field(min_length=1)])
    max_tokens: int | None = Field(None, ge=1, description="default 16, or --max-tokens when lower")
    logprobs: int | None = Field(None, ge=0, le=20)
    echo: bool = False


class TokenizeRequest(OpenModel):
    model: str | None = None
    prompt: str | None = Field(None, description="send either prompt or messages")
    messages: list[ChatMessage] | None = Field(None, min_length=1)
    add_generation_prompt: bool = True
    add_special_tokens: bool = False


class DetokenizeRequest(OpenModel):
    model: str | None = None
    tokens: list[TokenId]


# --- responses ---------------------------------------------------------------------------------
class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int = 0
    total_tokens: int


class TopLogprobOut(BaseModel):
    token: str
    logprob: float
    bytes: list[int] | None = None


class TokenLogprobOut(TopLogprobOut):
    top_logprobs: list[TopLogprobOut] = Field(default_factory=list)


class ChoiceLogprobs(BaseModel):
    content: list[TokenLogprobOut] | None = None


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None = None
    # the chain of empathy: `reasoning` as vLLM >= 0.32 names it, `reasoning_content` (its old name) kept for clients
    reasoning: str | None = None
    reasoning_content: str | None = None


class ChatChoice(BaseModel):
    index: int
    message: AssistantMessage
    logprobs: ChoiceLogprobs | None = None
    finish_reason: str | None = None


class ChatCompletionResponse(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage


class DeltaMessage(BaseModel):
    role: str | None = None
    content: str | None = None
    reasoning: str | None = None  # as in AssistantMessage
    reasoning_content: str | None = None


class ChunkChoice(BaseModel):
    index: int
    delta: DeltaMessage
    logprobs: ChoiceLogprobs | None = None
    finish_reason: str | None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None


class CompletionLogprobs(BaseModel):
    tokens: list[str] = Field(default_factory=list)
    token_logprobs: list[float] = Field(default_factory=list)
    top_logprobs: list[dict[str, float]] = Field(default_factory=list)
    text_offset: list[int] = Field(default_factory=list)


class CompletionChoice(BaseModel):
    index: int
    text: str
    logprobs: CompletionLogprobs | None = None
    finish_reason: str | None = None


class CompletionResponse(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "emollm"
    root: str | None = None
    max_model_len: int | None = None


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class TokenizeResponse(BaseModel):
    count: int
    max_model_len: int
    tokens: list[TokenId]


class DetokenizeResponse(BaseModel):
    prompt: str


class ErrorInfo(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | int | None = None


class ErrorResponse(BaseModel):
    error: ErrorInfo


class VersionResponse(BaseModel):
    version: str


class HealthResponse(BaseModel):
    status: str
