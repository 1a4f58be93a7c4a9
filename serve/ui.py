"""The Gradio video chat: upload or record a video (webcam), audio (microphone), images and text;
multi-turn, streamed replies with a stop button; a task picker that sets the instruction; the
frames and face crops the model saw in a gallery beside the answer; offline examples from the
synthetic set. It calls the engine in-process (same queue, batching and feature cache as the API).

Files: the chat reads only what its media policy allows (`MediaPolicy.local_file`, the API's rule
too): its own upload folder (one per server process, handed to Gradio as `GRADIO_TEMP_DIR`), the
example clips and `--allowed-local-media-path`. The input components apply it before Gradio copies
a file a request names into its cache, and `respond` again before the engine sees a path.

The chain of empathy shows as a collapsible "Chain of empathy" message and is never fed back:
earlier assistant turns go back to the model by their reply only. The conversation is about one
clip: the most recent visual (video or image) and the most recent audio the user attached.
"""

from __future__ import annotations

import atexit
import functools
import hmac
import logging
import os
import shutil
import tempfile
from collections import OrderedDict
from pathlib import Path

import gradio as gr

from data_pipeline.clip import Clip, media_kind
from data_pipeline.tasks import TASK_INSTRUCTIONS, Task
from serve.decoding import Delta, Finished, SamplingParams
from serve.engine import Engine
from serve.errors import APIError
from serve.media_fetch import MediaFetcher, MediaPolicy
from serve.reasoning import ReasoningStream
from serve.request import EngineRequest, Failed, MediaInputs, Started

logger = logging.getLogger(__name__)

CHAIN_TITLE = "Chain of empathy"
TASKS = {"Recognise the emotion": Task.MER, "Reason about the emotion": Task.ERI,
         "Respond with empathy": Task.ERG, "Free chat": None}
EVENT_TIMEOUT_SECONDS = 600


@functools.cache
def upload_folder() -> str:
    """This server's own folder for chat uploads (not the machine-wide /tmp/gradio that other apps
    share). Gradio reads `GRADIO_TEMP_DIR` when it builds components and the app and when it checks
    a file, so it is set once, before the first component, for the whole process."""
    folder = tempfile.mkdtemp(prefix="emollm-chat-uploads-")
    os.environ["GRADIO_TEMP_DIR"] = folder
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


class ChatUI:
    def __init__(self, engine: Engine, api_key: str | None = None, policy: MediaPolicy | None = None,
                 examples: list[dict] | None = None, examples_dir: str | os.PathLike | None = None,
                 temperature: float = 0.7, max_tokens: int = 256):
        self.engine, self.api_key, self.examples = engine, api_key, examples or []
        self.upload_dir = upload_folder()
        roots = [self.upload_dir] + ([examples_dir] if examples_dir else [])
        self.policy = (policy or MediaPolicy()).with_local_roots(*roots)
        self.fetcher = MediaFetcher(self.policy)
        self.params = SamplingParams(temperature=temperature, max_tokens=max_tokens)
        self.previews: OrderedDict[str, list] = OrderedDict()  # visual path -> gallery items
        self.gallery_dir = tempfile.mkdtemp(prefix="emollm-chat-")

    # --- one turn ------------------------------------------------------------------------------
    def respond(self, message: dict | str, history: list, task: str, webcam: str | None):
        text, files = _message_parts(message)
        if webcam:
            files.append(webcam)
        instruction = TASK_INSTRUCTIONS[TASKS[task]] if TASKS.get(task) else ""
        turns = _history_turns(history) + [("user", "\n".join(t for t in (text, instruction) if t), files)]
        messages, media = self._conversation(turns)
        try:
            handle = self.engine.submit(EngineRequest(messages=messages, media=media, params=self.params))
        except APIError as error:
            raise gr.Error(error.message) from None
        splitter, reasoning, reply = ReasoningStream(), "", ""
        try:
            for event in handle.events(timeout=EVENT_TIMEOUT_SECONDS):
                if isinstance(event, Failed):
                    raise gr.Error(event.error.message)
                if isinstance(event, Started):  # the gallery is sent once; later updates skip it
                    yield _chat_messages("", "", False), self._gallery(media, event.media)
                elif isinstance(event, Delta | Finished):
                    r, c = splitter.feed(event.text) if isinstance(event, Delta) else splitter.finish()
                    reasoning, reply = reasoning + r, reply + c
                    if r or c or isinstance(event, Finished):
                        yield _chat_messages(reasoning, reply, isinstance(event, Finished) or bool(reply)), gr.skip()
        finally:
            handle.cancel()  # the stop button closes this generator: stop generating too

    def _conversation(self, turns: list[tuple[str, str, list[str]]]) -> tuple[list[dict], MediaInputs]:
        """Chat turns -> the processor's conversation, with the media parts of the latest visual
        and the latest audio (each where it was attached) and the clip's files, checked."""
        latest: dict[str, tuple[int, str, str]] = {}  # "visual" / "audio" -> (turn, kind, path)
        for index, (role, _, files) in enumerate(turns):
            for path in files if role == "user" else []:
                kind = media_kind(path) or "video"
                latest["audio" if kind == "audio" else "visual"] = (index, kind, path)
        params, paths = {}, {}
        for _, kind, path in latest.values():
            params[kind] = f"the {kind} {Path(path).name}"
            try:
                paths[kind] = str(self.fetcher.local(path, kind, params[kind]).path)
            except APIError as error:
                raise gr.Error(error.message) from None
        media = MediaInputs(Clip(**paths), params)
        messages = []
        for index, (role, text, _) in enumerate(turns):
            if role != "user":
                messages.append({"role": role, "content": text})
                continue
            parts = [{"type": kind} for at, kind, _ in latest.values() if at == index]
            messages.append({"role": "user", "content": parts + [{"type": "text", "text": text}]})
        return messages, media

    def _gallery(self, media: MediaInputs, decoded) -> list | None:
        clip = media.clip
        visual = clip.visual
        if visual is None:
            return None
        if decoded is None and visual not in self.previews:  # encoded features were cached: decode to show
            decoded = self.engine.processor.load_media(Clip(video=clip.video, image=clip.image, use_video_audio=False))
        if decoded is not None and decoded.frames is not None:
            images = [(f, f"frame {i + 1}") for i, f in enumerate(decoded.frames)]
            images += [(f, f"face {i + 1}") for i, f in enumerate(decoded.faces if decoded.faces is not None else [])]
            self.previews[visual] = self._save(images)
            while len(self.previews) > 16:
                shutil.rmtree(Path(self.previews.popitem(last=False)[1][0][0]).parent, ignore_errors=True)
        return self.previews.get(visual)

    @property
    def auth(self):
        """Gradio login check when the server has an API key (None: no login)."""
        if not self.api_key:
            return None
        key = self.api_key.encode()
        return lambda _user, password: hmac.compare_digest((password or "").encode(), key)

    def _save(self, images: list) -> list[tuple[str, str]]:
        """PNG files (the chat's API returns gallery values unprocessed: paths travel, arrays don't)."""
        from PIL import Image

        folder = Path(tempfile.mkdtemp(prefix="gallery-", dir=self.gallery_dir))
        items = []
        for index, (array, caption) in enumerate(images):
            path = folder / f"{index:02d}.png"
            Image.fromarray(array).save(path)
            items.append((str(path), caption))
        return items

    # --- layout --------------------------------------------------------------------------------
    def build(self) -> gr.Blocks:
        with gr.Blocks(title="EmoLLM video chat", analytics_enabled=False) as demo:  # no calls home
            gr.Markdown("## EmoLLM video chat\nAttach or record a video, an image or audio, pick a task, and ask. "
                        "The chain of empathy opens under *Chain of empathy*.")
            with gr.Row():
                with gr.Column(scale=1, min_width=300):
                    task = gr.Radio(list(TASKS), value="Respond with empathy", label="Task")
                    webcam = self._guarded(gr.Video(sources=["upload", "webcam"],
                                                    label="Video (upload or record with the webcam)"))
                    gallery = gr.Gallery(label="What the model saw: frames, then face crops", columns=4,
                                         height=260, interactive=False)
                with gr.Column(scale=2):
                    gr.ChatInterface(
                        self.respond, multimodal=True, api_name="chat",
                        chatbot=self._guarded(gr.Chatbot(label="EmoLLM", height=480)),
                        textbox=self._guarded(gr.MultimodalTextbox(
                            sources=["upload", "microphone"], file_count="multiple",
                            file_types=["video", "image", "audio"],
                            placeholder="Ask about the clip; attach a video, image or audio")),
                        additional_inputs=[task, webcam], additional_outputs=[gallery],
                        examples=self.examples or None, cache_examples=False, concurrency_limit=None,
                        fill_height=False, analytics_enabled=False)
        return demo

    def _guarded(self, component):
        """An input component whose files pass the media policy before Gradio copies them into the
        upload folder: a mounted app skips Gradio's own check (it runs only once `Blocks.launch` set
        `has_launched`, gradio/processing_utils.py `_check_allowed`), and a copy made there would
        pass any later check. (Hooked on the instance: a subclass of a Gradio component makes
        Gradio write a .pyi stub next to this module.)"""
        copy, copy_async = component.move_resource_to_block_cache, component.async_move_resource_to_block_cache

        def allowed(path):
            if path is not None:
                try:
                    self.policy.local_file(str(path), f"the file {Path(str(path)).name}")
                except APIError as error:
                    raise gr.Error(error.message) from None

        def guarded_copy(path):
            allowed(path)
            return copy(path)

        async def guarded_copy_async(path):
            allowed(path)
            return await copy_async(path)

        component.move_resource_to_block_cache, component.async_move_resource_to_block_cache = (
            guarded_copy, guarded_copy_async)
        return component


def _chat_messages(reasoning: str, reply: str, chain_done: bool) -> list:
    messages = []
    if reasoning:
        messages.append(gr.ChatMessage(content=reasoning, metadata={
            "title": CHAIN_TITLE, "status": "done" if chain_done else "pending"}))
    messages.append(gr.ChatMessage(content=reply or ("" if reasoning else "…")))
    return messages


def _message_parts(message) -> tuple[str, list[str]]:
    if isinstance(message, str):
        return message, []
    files = [f.get("path") if isinstance(f, dict) else str(f) for f in message.get("files") or []]
    return message.get("text") or "", [f for f in files if f]


def _history_turns(history: list) -> list[tuple[str, str, list[str]]]:
    """Gradio's history -> (role, text, files); chain-of-empathy messages are dropped and
    consecutive pieces of one turn merged."""
    turns: list[tuple[str, str, list[str]]] = []
    for item in history or []:
        role = item.get("role") if isinstance(item, dict) else getattr(item, "role", None)
        metadata = (item.get("metadata") if isinstance(item, dict) else getattr(item, "metadata", None)) or {}
        if role not in ("user", "assistant") or (role == "assistant" and metadata.get("title")):
            continue
        content = item.get("content") if isinstance(item, dict) else getattr(item, "content", None)
        text, files = _content_parts(content)
        if turns and turns[-1][0] == role:
            previous = turns.pop()
            text, files = "\n".join(t for t in (previous[1], text) if t), previous[2] + files
        turns.append((role, text, files))
    return turns


def _content_parts(content) -> tuple[str, list[str]]:
    texts, files = [], []
    for piece in content if isinstance(content, list | tuple) else [content]:
        if isinstance(piece, str):
            texts.append(piece)
        elif isinstance(piece, dict):
            if piece.get("type") == "text":
                texts.append(piece.get("text", ""))
            path = piece.get("path") or (piece.get("file") or {}).get("path")
            if path:
                files.append(path)
        elif hasattr(piece, "value") and isinstance(piece.value, dict) and piece.value.get("path"):
            files.append(piece.value["path"])
    return "\n".join(t for t in texts if t), files


def synthetic_examples(directory: str | Path, count: int = 3) -> list[list]:
    """A few clips of the synthetic set (generated into `directory` on first use) as examples:
    [message, task] rows, one task each."""
    from data_pipeline.schema import read_records
    from data_pipeline.synthetic import generate_synthetic

    records = read_records(generate_synthetic(directory, n=count, seed=0, workers=1, progress=False))
    examples, seen = [], set()
    for record in records:
        clip = record.media.video
        if clip and clip not in seen:
            seen.add(clip)
            text = f'The speaker says: "{record.subtitle}"' if record.subtitle else "What does the speaker feel?"
            task = list(TASKS)[(len(examples) + 2) % 3]  # empathy first, then recognise, reason
            examples.append([{"text": text, "files": [str(clip)]}, task, None])
    return examples[:count]


def mount_ui(app, ui: ChatUI, path: str = "/ui", allowed_paths: list[str] | None = None):
    """Mount the chat on a FastAPI app (the API server) at `path`; with an API key, the chat asks
    for it on a login page (any user name, the key as password)."""
    return gr.mount_gradio_app(app, ui.build(), path=path, allowed_paths=allowed_paths, footer_links=["api"],
                               auth=ui.auth)
