"""OpenAI-style requests -> engine requests (the processor's conversation format, one clip, sampling
settings), and engine log-probs -> OpenAI's shapes.

A conversation carries at most one visual input (video or image) and one audio input: the model
sees one clip (`data_pipeline.clip.Clip`) per conversation, with its placeholders where the media
part stands. A client that resends the same media URL in a later turn gets it deduplicated. With
a video and a separate audio, the video gives the frames and faces and the audio replaces its
sound track (the clip's rule). Assistant
turns are fed back by their `content` only: `reasoning_content` (and a `<think>` block left in
the content) is dropped, so the chain of empathy never conditions later turns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from data_pipeline.clip import Clip
from emollm.configuration_emollm import PLACEHOLDERS
from emollm.metrics import split_reasoning
from serve.decoding import SamplingParams, TokenLogprob
from serve.errors import bad_request
from serve.media_fetch import FetchedMedia, MediaFetcher
from serve.protocol import ChatMessage, ChoiceLogprobs, CompletionLogprobs, TokenLogprobOut, TopLogprobOut
from serve.request import MediaInputs

URL_PARTS = {"image_url": "image", "video_url": "video", "audio_url": "audio"}


@dataclass
class ChatInput:
    messages: list[dict]
    media: MediaInputs
    fetched: list[FetchedMedia] = field(default_factory=list)


class _ChatBuilder:
    def __init__(self, fetcher: MediaFetcher):
        self.fetcher = fetcher
        self.messages: list[dict] = []
        self.slots: dict[str, tuple[str, FetchedMedia, dict]] = {}  # kind -> (source, media, part)
        self.fetched: list[FetchedMedia] = []

    def add(self, index: int, message: ChatMessage) -> None:
        param = f"messages[{index}].content"
        if message.role == "tool":
            raise bad_request(f"messages[{index}]: tool messages are not supported (this server has no tool calling)",
                              f"messages[{index}].role", "unsupported_role")
        if message.role in ("system", "developer"):
            self.messages.append({"role": "system", "content": self._text_only(message.content, param)})
        elif message.role == "assistant":
            _, reply = split_reasoning(self._text_only(message.content, param))
            self.messages.append({"role": "assistant", "content": reply})
        else:
            self.messages.append({"role": "user", "content": self._user_content(message.content, param)})

    def _text_only(self, content, param: str) -> str:
        if content is None or isinstance(content, str):
            return _checked_text(content or "", param)
        if any(part.type != "text" for part in content):
            raise bad_request(f"{param}: only user messages may carry media", param, "invalid_content")
        return "".join(_checked_text(part.text, f"{param}[{i}].text") for i, part in enumerate(content))

    def _user_content(self, content, param: str) -> str | list[dict]:
        if content is None or isinstance(content, str):
            return _checked_text(content or "", param)
        parts: list[dict] = []
        for j, part in enumerate(content):
            where = f"{param}[{j}]"
            if part.type == "text":
                parts.append({"type": "text", "text": _checked_text(part.text, f"{where}.text")})
            elif part.type == "input_audio":
                data = part.input_audio.data
                self._add_media("audio", data, f"{where}.input_audio", parts, lambda p, d=data, f=part.input_audio.format:
                                self.fetcher.from_data(d, "." + f.lower().lstrip("."), "audio", p))
            else:
                kind, url = URL_PARTS[part.type], getattr(part, part.type).url
                self._add_media(kind, url, f"{where}.{part.type}", parts,
                                lambda p, u=url, k=kind: self.fetcher.fetch(u, k, p))
        return parts

    def _add_media(self, kind: str, source: str, param: str, parts: list[dict], fetch) -> None:
        limit = self.fetcher.policy.limit_mm_per_prompt.get(kind, 1)
        if limit == 0:
            raise bad_request(f"{param}: this server takes no {kind} input (--limit-mm-per-prompt {kind}=0)",
                              param, "too_many_media")
        if kind in self.slots:
            if self.slots[kind][0] == source:  # the same media resent with a later turn
                return
            raise bad_request(f"{param}: at most {limit} {kind} per conversation (--limit-mm-per-prompt); this "
                              f"request has more", param, "too_many_media")
        visual = {"video", "image"}
        if kind in visual and visual & self.slots.keys():
            raise bad_request(f"{param}: at most one visual input (a video or an image) per conversation; this "
                              "request has a video and an image", param, "too_many_media")
        media = fetch(param)
        self.fetched.append(media)
        part = {"type": kind}
        self.slots[kind] = (source, media, part)
        parts.append(part)

    def finish(self) -> ChatInput:
        paths = {kind: str(media.path) for kind, (_, media, _) in self.slots.items()}
        params = {kind: media.param for kind, (_, media, _) in self.slots.items()}
        return ChatInput(self.messages, MediaInputs(Clip(**paths), params), self.fetched)

    def release(self) -> None:
        for media in self.fetched:
            self.fetcher.release(media)


def chat_input(messages: list[ChatMessage], fetcher: MediaFetcher) -> ChatInput:
    """Messages -> the processor's conversation and one clip's media (fetched and checked).
    On an error every file fetched so far is released."""
    builder = _ChatBuilder(fetcher)
    try:
        for index, message in enumerate(messages):
            builder.add(index, message)
        return builder.finish()
    except BaseException:
        builder.release()
        raise


def _checked_text(text: str, param: str) -> str:
    for placeholder in PLACEHOLDERS.values():
        if placeholder in text:
            raise bad_request(f"{param}: the text contains the reserved token {placeholder}; send media as "
                              "content parts instead", param, "reserved_token")
    return text


COMPLETION_MAX_TOKENS = 16  # OpenAI's and vLLM's default for /v1/completions


def sampling_params(request, chat: bool, max_tokens_cap: int | None = None) -> SamplingParams:
    """The generation settings of a chat or completion request, checked. A completion without
    `max_tokens` gets 16 tokens, or the server's `--max-tokens` (`max_tokens_cap`) when lower."""
    if request.presence_penalty or request.frequency_penalty:
        raise bad_request("presence_penalty and frequency_penalty are not supported (only 0)",
                          "presence_penalty" if request.presence_penalty else "frequency_penalty", "unsupported")
    if request.stream_options is not None and not request.stream:
        raise bad_request("stream_options is only allowed when stream is true", "stream_options")
    stop = [request.stop] if isinstance(request.stop, str) else list(request.stop or [])
    if chat:
        max_tokens = request.max_completion_tokens or request.max_tokens
        logprobs, top = request.logprobs, request.top_logprobs or 0
        if top and not logprobs:
            raise bad_request("top_logprobs needs logprobs=true", "top_logprobs")
    else:
        max_tokens = request.max_tokens or min(COMPLETION_MAX_TOKENS, max_tokens_cap or COMPLETION_MAX_TOKENS)
        logprobs, top = request.logprobs is not None, request.logprobs or 0
    return SamplingParams(
        max_tokens=max_tokens, temperature=1.0 if request.temperature is None else request.temperature,
        top_p=1.0 if request.top_p is None else request.top_p, n=request.n, seed=request.seed,
        stop=[s for s in stop if s], logprobs=logprobs, top_logprobs=top, guided_choice=_guided_choice(request),
        min_tokens=request.min_tokens, ignore_eos=request.ignore_eos)


def _guided_choice(request) -> list[str] | None:
    extra = request.extra_body or {}
    structured = request.structured_outputs or extra.get("structured_outputs") or {}
    choices = request.guided_choice or extra.get("guided_choice") or structured.get("choice")
    if choices is None:
        return None
    if not isinstance(choices, list) or not choices or not all(isinstance(c, str) and c for c in choices):
        raise bad_request("guided_choice must be a non-empty list of non-empty strings", "guided_choice")
    return choices


def chat_logprobs(entries: list[TokenLogprob]) -> ChoiceLogprobs:
    return ChoiceLogprobs(content=[TokenLogprobOut(
        token=e.token, logprob=e.logprob, bytes=list(e.token.encode()),
        top_logprobs=[TopLogprobOut(token=t.token, logprob=t.logprob, bytes=list(t.token.encode())) for t in e.top])
        for e in entries])


def completion_logprobs(entries: list[TokenLogprob], offset: int = 0) -> CompletionLogprobs:
    out = CompletionLogprobs()
    for entry in entries:
        out.tokens.append(entry.token)
        out.token_logprobs.append(entry.logprob)
        out.top_logprobs.append({t.token: t.logprob for t in entry.top})
        out.text_offset.append(offset)
        offset += len(entry.token)
    return out
