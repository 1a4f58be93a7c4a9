"""`EmoLLMProcessor`: raw media + chat messages -> model inputs, in one code path shared by
training, evaluation, the API server and the chat UI.

* media go through `data_pipeline` (decord frame sampling by index, 16 kHz audio, the face step);
* frames and face crops through the image processor, audio through Whisper's feature extractor
  (30 s windows: Transformers' Whisper encoder insists on 3000 mel frames, so each window is
  padded to 30 s and the model trims the encoder output back to the real length);
* text through the LLM's own chat template, with one placeholder per modality expanded to the
  adapter's token count; labels cover only the assistant turns, found from the turn boundaries
  (Qwen2.5's template has no generation markers).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from transformers import AutoProcessor, BatchFeature
from transformers.processing_utils import ProcessorMixin

from data_pipeline.clip import Clip
from data_pipeline.errors import MediaError
from emollm.configuration_emollm import PLACEHOLDERS, EmoLLMConfig

logger = logging.getLogger(__name__)

IGNORE_INDEX = -100
MEDIA_PART_TYPES = {"video", "image", "audio"}
WHISPER_HOP = 320  # input samples per Whisper encoder frame (hop 160, conv stride 2)
WHISPER_MAX_FRAMES = 1500


@dataclass
class ClipMedia:
    """One clip's decoded media (what the model sees; the chat UI shows it too)."""

    frames: np.ndarray | None = None  # (T, H, W, 3) uint8
    faces: np.ndarray | None = None  # (T, S, S, 3) uint8
    waveform: np.ndarray | None = None  # mono float32 at 16 kHz
    face_found: bool | None = None
    notes: list[str] = field(default_factory=list)
    provenance: dict = field(default_factory=dict)

    @property
    def has_visual(self) -> bool:
        return self.frames is not None

    @property
    def has_audio(self) -> bool:
        return self.waveform is not None and self.waveform.size > 0


class EmoLLMProcessor(ProcessorMixin):
    def __init__(self, image_processor=None, feature_extractor=None, tokenizer=None, chat_template=None,
                 num_frames: int = 8, face_size: int = 224, num_tokens: dict | None = None,
                 face_detector: str | None = "haar", sample_fps: float | None = None,
                 max_audio_seconds: float = 120.0, audio_window_seconds: float = 30.0, max_frame_side: int = 1280,
                 audio_length: str = "window", frame_backend: str = "auto", face_detect_side: int = 320,
                 face_image_mean: list[float] | None = None, face_image_std: list[float] | None = None,
                 **kwargs):
        # the face tower's own normalisation (its checkpoint's processor); None = the frames'
        self.face_image_mean = face_image_mean
        self.face_image_std = face_image_std
        self.num_frames = num_frames
        self.face_size = face_size
        self.num_tokens = dict(num_tokens or {"frames": 32, "face": 4, "audio": 32, "fusion": 1})
        self.face_detector = face_detector
        self.sample_fps = sample_fps
        self.max_audio_seconds = max_audio_seconds
        self.audio_window_seconds = audio_window_seconds
        self.audio_length = audio_length  # as the model config's media.audio_length
        self.frame_backend = frame_backend  # as media.frame_backend; old processor configs load with "auto"
        # the face detector searches frames downscaled to this longer side (old configs: 320)
        self.face_detect_side = face_detect_side
        self.max_frame_side = max_frame_side
        super().__init__(image_processor, feature_extractor, tokenizer, chat_template=chat_template, **kwargs)

    # --- media -------------------------------------------------------------------------------
    def load_media(self, clip: Clip | None = None, **fields) -> ClipMedia:
        """Decode one clip (a `Clip`, or its fields as keywords: video=, image=, audio=,
        face_boxes=, use_video_audio=). A video without an audio track is fine (no audio); an
        audio file or a video track that can't be decoded raises MediaError naming the file."""
        from data_pipeline import media as readers

        clip = clip if clip is not None else Clip(**fields)
        decoded = ClipMedia()
        if clip.visual is not None:
            sampled = readers.read_frames(clip.visual, self.num_frames, sample_fps=self.sample_fps,
                                          max_side=self.max_frame_side, backend=self.frame_backend)
            boxes = list(clip.face_boxes) if clip.face_boxes is not None else None
            self.add_frames(decoded, sampled.frames, list(sampled.indices), boxes)
            decoded.provenance["sampling"] = sampled.sampling | {"indices": sampled.indices}
        if clip.audio_source is not None:
            try:
                decoded.waveform = readers.read_audio(clip.audio_source, max_seconds=self.max_audio_seconds)
            except MediaError as error:
                if clip.audio is not None or "no audio track" not in error.reason:
                    raise
                decoded.notes.append("the video has no audio track")
        return decoded

    def add_frames(self, clip: ClipMedia, frames: np.ndarray, indices: list[int] | None = None,
                   face_boxes: list | None = None) -> ClipMedia:
        """Decoded frames (T, H, W, 3) -> the clip's frames and face crops (the face step). Public
        for callers that decode frames themselves (the vLLM plugin)."""
        indices = list(range(len(frames))) if indices is None else indices
        if len(frames) < self.num_frames:  # stills and very short clips: repeat to a fixed length
            repeat = np.linspace(0, len(frames) - 1, self.num_frames).round().astype(int)
            frames, indices = frames[repeat], [indices[i] for i in repeat]
        clip.frames = frames
        clip.faces, clip.face_found, clip.provenance["face"] = self._face_crops(frames, _boxes_at(face_boxes, indices))
        if not clip.face_found:
            clip.notes.append("no face found: the face branch sees a centre crop")
        return clip

    def _face_crops(self, frames: np.ndarray, face_boxes: list | None):
        from data_pipeline import faces

        if face_boxes is None and self.face_detector:
            track = faces.track_faces(frames, detector=self.face_detector, max_side=self.face_detect_side)
            face_boxes = track.boxes if track.found else None
            info = {"detector": track.detector, "version": track.version, "found": track.found}
        else:
            info = {"detector": "given" if face_boxes is not None else None}
        crops, used_fallback = faces.crop_faces(frames, face_boxes, self.face_size)
        return crops, not used_fallback, info

    def media_tensors(self, clips: list) -> dict:
        """Stack each modality over the samples that have it (in sample order). Decoded clips
        (`ClipMedia`) become pixel and mel tensors; cached ones (`CachedClip`) become
        `tower_features` that skip the towers."""
        from emollm.feature_cache import CachedClip

        out: dict = {}
        decoded = [(i, c) for i, c in enumerate(clips) if isinstance(c, ClipMedia)]
        visual = [(i, c) for i, c in decoded if c.has_visual]
        if visual:
            out["frames_pixel_values"] = self._pixels([c.frames for _, c in visual], None)
            out["face_pixel_values"] = self._pixels([c.faces for _, c in visual], self.face_size)
            out["frames_sample_index"] = torch.tensor([i for i, _ in visual])
        audible = [(i, c) for i, c in decoded if c.has_audio]
        if audible:
            out.update(self._audio([c.waveform for _, c in audible]))
            out["audio_sample_index"] = torch.tensor([i for i, _ in audible])
        cached = [(i, c) for i, c in enumerate(clips) if isinstance(c, CachedClip)]
        if cached:
            out["tower_features"] = _stack_cached(cached)
        return out

    def _pixels(self, clips: list[np.ndarray], size: int | None) -> torch.Tensor:
        flat = [frame for clip in clips for frame in clip]
        kwargs = {}
        if size is not None:
            kwargs = {"size": {"shortest_edge": size}, "crop_size": {"height": size, "width": size}}
            if self.face_image_mean is not None:
                kwargs.update(image_mean=self.face_image_mean, image_std=self.face_image_std)
        pixels = self.image_processor(images=flat, return_tensors="pt", **kwargs)["pixel_values"]
        return pixels.reshape(len(clips), -1, *pixels.shape[1:])

    def _audio(self, waveforms: list[np.ndarray]) -> dict[str, torch.Tensor]:
        window = int(self.audio_window_seconds * self.feature_extractor.sampling_rate)
        pieces, counts = [], []
        for waveform in waveforms:
            chunks = [waveform[s:s + window] for s in range(0, max(len(waveform), 1), window)] or [waveform]
            pieces.extend(chunks)
            counts.append(len(chunks))
        features, valid = self._clip_mels(pieces) if self.audio_length == "clip" else self._window_mels(pieces)
        return {"audio_input_features": features, "audio_valid_frames": torch.tensor(valid),
                "audio_window_counts": torch.tensor(counts)}

    def _window_mels(self, pieces: list[np.ndarray]) -> tuple[torch.Tensor, list[int]]:
        """Every piece padded to Whisper's 30 s window; valid = its real length in encoder frames."""
        features = self.feature_extractor(pieces, sampling_rate=self.feature_extractor.sampling_rate,
                                          return_tensors="pt")["input_features"]
        valid = [min(max(math.ceil(len(p) / WHISPER_HOP), 1), WHISPER_MAX_FRAMES) for p in pieces]
        return features, valid

    def _clip_mels(self, pieces: list[np.ndarray]) -> tuple[torch.Tensor, list[int]]:
        """Each piece's log-mel on its own (no padding, so a clip's features never depend on the
        clip it is batched with), cut to whole encoder frames and zero-filled to the batch's longest;
        the audio tower reads only each piece's `2 * valid` mel frames."""
        mels = [self.feature_extractor(p, sampling_rate=self.feature_extractor.sampling_rate, padding="longest",
                                       return_tensors="pt")["input_features"][0] for p in pieces]
        valid = [max(mel.shape[-1] // 2, 1) for mel in mels]
        features = torch.zeros(len(mels), mels[0].shape[0], 2 * max(valid))
        for row, (mel, frames) in enumerate(zip(mels, valid, strict=True)):
            used = min(mel.shape[-1], 2 * frames)
            features[row, :, :used] = mel[:, :used]
        return features, valid

    # --- text --------------------------------------------------------------------------------
    def render(self, messages: list[dict], clip: ClipMedia | None, add_generation_prompt: bool = False) -> str:
        """Chat-templated text with each media part replaced by its placeholders, expanded.

        The one placeholder rule: a "video" or "image" part stands for the clip's frames and
        face; an "audio" part for its sound, and a "video" part for the sound too when the
        conversation has no "audio" part (the video's own track); the fusion token follows the
        conversation's last media part when the clip has both."""
        parts = [(i, j, part.get("type")) for i, m in enumerate(messages) if not isinstance(m["content"], str)
                 for j, part in enumerate(m["content"])]
        media = [(i, j, kind) for i, j, kind in parts if kind in MEDIA_PART_TYPES]
        own_sound = not any(kind == "audio" for _, _, kind in media)
        last = media[-1][:2] if media else None
        flat = []
        for i, message in enumerate(messages):
            content = message["content"]
            if not isinstance(content, str):
                content = "".join(self._part_text(part, clip, own_sound, last == (i, j))
                                  for j, part in enumerate(content))
            flat.append({"role": message["role"], "content": content})
        text = self.tokenizer.apply_chat_template(flat, tokenize=False, add_generation_prompt=add_generation_prompt)
        return self.expand_placeholders(text)

    def _part_text(self, part: dict, clip, own_sound: bool, last: bool) -> str:
        kind = part.get("type")
        if kind == "text":
            return part.get("text", "")
        if kind not in MEDIA_PART_TYPES:
            raise ValueError(f"unknown content part type {kind!r}")
        if clip is None:
            return ""
        names = []
        if kind in ("video", "image") and clip.has_visual:
            names += ["frames", "face"]
        if (kind == "audio" or (kind == "video" and own_sound)) and clip.has_audio:
            names.append("audio")
        if last and clip.has_visual and clip.has_audio and "fusion" in self.num_tokens:
            names.append("fusion")
        return "".join(PLACEHOLDERS[n] for n in names if n in self.num_tokens) + ("\n" if names else "")

    def media_placeholders(self, kind: str, clip: ClipMedia) -> str:
        """The expanded placeholders one media part of a single-media prompt becomes (no newline)."""
        return self.expand_placeholders(self._part_text({"type": kind}, clip, own_sound=True, last=True).rstrip("\n"))

    def prompt_ids(self, messages: list[dict], clip, add_generation_prompt: bool = True) -> list[int]:
        """A conversation's token ids, its placeholders expanded for `clip`."""
        text = self.render(messages, clip, add_generation_prompt=add_generation_prompt)
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    @property
    def pad_token_id(self) -> int:
        tokenizer = self.tokenizer
        return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    def expand_placeholders(self, text: str) -> str:
        for modality, placeholder in PLACEHOLDERS.items():
            if modality in self.num_tokens:
                text = text.replace(placeholder, placeholder * self.num_tokens[modality])
        return text

    def _assistant_spans(self, messages: list[dict], clip: ClipMedia | None, full: str) -> list[tuple[int, int]]:
        spans = []
        for index, message in enumerate(messages):
            if message["role"] != "assistant":
                continue
            start = len(self.render(messages[:index], clip, add_generation_prompt=True))
            end_text = self.render(messages[: index + 1], clip).rstrip("\n")
            if not full.startswith(end_text):
                raise ValueError("the chat template is not prefix-stable; can't find the assistant turns")
            spans.append((start, len(end_text)))
        return spans

    # --- batches -----------------------------------------------------------------------------
    def __call__(self, conversations: list, clips: list | None = None, add_generation_prompt: bool = False,
                 return_labels: bool = False, padding_side: str = "right", max_length: int | None = None) -> BatchFeature:
        """One batch: each conversation (a message list, or a prompt already given as token ids)
        rendered, tokenised and padded, plus its clip's media tensors (`ClipMedia`: pixels and
        mel features; `CachedClip`: tower features; None: text only)."""
        clips = clips if clips is not None else [None] * len(conversations)
        rows, label_rows = [], []
        for messages, clip in zip(conversations, clips, strict=True):
            if _is_token_ids(messages):
                if return_labels:
                    raise ValueError("labels need conversations, not token ids")
                rows.append(list(messages))
                continue
            text = self.render(messages, clip, add_generation_prompt=add_generation_prompt)
            encoded = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=return_labels)
            ids = encoded["input_ids"]
            if max_length and len(ids) > max_length:
                raise ValueError(f"prompt is {len(ids)} tokens, over the limit of {max_length}")
            rows.append(ids)
            if return_labels:
                spans = self._assistant_spans(messages, clip, text)
                label_rows.append([tok if any(s <= off[0] < e for s, e in spans) else IGNORE_INDEX
                                   for tok, off in zip(ids, encoded["offset_mapping"], strict=True)])
        batch = _pad(rows, self.pad_token_id, padding_side)
        if return_labels:
            batch["labels"] = _pad(label_rows, IGNORE_INDEX, padding_side)["input_ids"]
        batch.update(self.media_tensors(clips))
        return BatchFeature(batch)

    def batch_decode(self, *args, **kwargs):
        return self.tokenizer.batch_decode(*args, **kwargs)

    def decode(self, *args, **kwargs):
        return self.tokenizer.decode(*args, **kwargs)


def _is_token_ids(conversation) -> bool:
    return bool(conversation) and all(isinstance(item, int) for item in conversation)


def _boxes_at(face_boxes: list | None, indices: list[int]) -> list | None:
    """Boxes given per video frame (a record's face track) -> the boxes of the sampled frames."""
    if face_boxes is None or len(face_boxes) == len(indices):
        return face_boxes
    return [face_boxes[min(i, len(face_boxes) - 1)] for i in indices]


def _pad(rows: list[list[int]], value: int, side: str) -> dict[str, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), value, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        if side == "left":
            ids[i, width - len(row):], mask[i, width - len(row):] = torch.tensor(row), 1
        else:
            ids[i, : len(row)], mask[i, : len(row)] = torch.tensor(row), 1
    return {"input_ids": ids, "attention_mask": mask}


def _stack_cached(cached: list) -> dict:
    features: dict = {}
    for modality, index_name in (("frames", "frames_sample_index"), ("face", "frames_sample_index"),
                                 ("audio", "audio_sample_index")):
        rows = [(i, c.features[modality]) for i, c in cached if modality in c.features]
        if rows:
            features[modality] = torch.stack([r[1] for r in rows])
            features[index_name] = torch.tensor([r[0] for r in rows])
    return features


AutoProcessor.register(EmoLLMConfig, EmoLLMProcessor, exist_ok=True)  # on import, like the config
