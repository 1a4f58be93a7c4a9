"""vLLM's multimodal processing for EmoLLM: `video` (frames and, from the "emollm" video loader,
the clip's own sound track), `image` and `audio` items -> EmoLLM's tower inputs, and each item's
placeholder -> the same expanded placeholder tokens `EmoLLMProcessor` writes.

Every media step is `EmoLLMProcessor`'s own: the face step on the frames (`add_frames`: detection,
tracking, crops), the image processor, Whisper's features in 30 s windows, the placeholder
expansion (`media_placeholders`). A video's own sound is its audio, fused with its frames as in EmoLLM.
Items are encoded one by one: an image and a separate audio in one prompt get no fusion token
between them (`emollm serve` pairs them into one clip); docs/serving.md lists this.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property

import numpy as np
import torch
from transformers import BatchFeature
from vllm.multimodal.inputs import MultiModalFieldConfig, MultiModalKwargsItems
from vllm.multimodal.parse import MultiModalDataItems, MultiModalDataParser
from vllm.multimodal.processing import (
    BaseDummyInputsBuilder,
    BaseMultiModalProcessor,
    BaseProcessingInfo,
    PromptReplacement,
    PromptUpdate,
)

from serve.vllm_plugin._project import PLACEHOLDERS, ClipMedia, EmoLLMConfig, EmoLLMProcessor

KINDS = ("image", "video", "audio")
# what a media part stands as in the chat-templated prompt before expansion (vLLM puts it where the
# part is, then "\n", then the text, as EmoLLMProcessor renders a media-first message)
PROMPT_PLACEHOLDERS = {
    "image": PLACEHOLDERS["frames"] + PLACEHOLDERS["face"],
    "video": PLACEHOLDERS["frames"] + PLACEHOLDERS["face"] + PLACEHOLDERS["audio"] + PLACEHOLDERS["fusion"],
    "audio": PLACEHOLDERS["audio"],
}


class EmoLLMProcessingInfo(BaseProcessingInfo):
    def get_hf_config(self) -> EmoLLMConfig:
        return self.ctx.get_hf_config(EmoLLMConfig)

    def get_hf_processor(self, **kwargs) -> EmoLLMProcessor:
        return self.ctx.get_hf_processor(EmoLLMProcessor, **kwargs)

    @cached_property
    def emollm_processor(self) -> EmoLLMProcessor:
        return self.get_hf_processor()

    def get_data_parser(self) -> MultiModalDataParser:
        # pyav: vLLM's default resampler (torchaudio) is removed from the vLLM environment
        return MultiModalDataParser(target_sr=self.emollm_processor.feature_extractor.sampling_rate,
                                    target_channels=1, audio_resample_method="pyav", video_needs_metadata=True,
                                    expected_hidden_size=self._get_expected_hidden_size())

    def get_supported_mm_limits(self) -> Mapping[str, int | None]:
        # one clip per prompt, as `emollm serve` takes one clip per conversation
        config = self.get_hf_config()
        limits = {}
        if config.frame_config is not None:
            limits.update(image=1, video=1)
        if config.audio_config is not None:
            limits["audio"] = 1
        return limits

    def get_mm_max_tokens_per_item(self, seq_len: int, mm_counts: Mapping[str, int] | None = None) -> Mapping[str, int]:
        full = ClipMedia(frames=np.zeros(1), waveform=np.ones(1, np.float32))
        return {kind: len(self.placeholder_ids(kind, full)) for kind in self.get_supported_mm_limits()}

    def placeholder_ids(self, kind: str, clip: ClipMedia) -> list[int]:
        text = self.emollm_processor.media_placeholders(kind, clip)
        return self.get_tokenizer().encode(text, add_special_tokens=False)


class EmoLLMDummyInputsBuilder(BaseDummyInputsBuilder[EmoLLMProcessingInfo]):
    """Worst case for memory profiling: the model's frame count, 30 s of sound."""

    def get_dummy_text(self, mm_counts: Mapping[str, int]) -> str:
        return "".join(PROMPT_PLACEHOLDERS[kind] * count for kind, count in mm_counts.items())

    def get_dummy_mm_data(self, seq_len: int, mm_counts: Mapping[str, int], mm_options=None):
        processor = self.info.emollm_processor
        side = processor.image_processor.crop_size["height"] if hasattr(processor.image_processor, "crop_size") else 224
        seconds = processor.audio_window_seconds
        waveform = np.zeros(int(seconds * processor.feature_extractor.sampling_rate), np.float32)
        frames = np.full((processor.num_frames, side, side, 3), 128, np.uint8)
        data = {}
        if mm_counts.get("image"):
            data["image"] = self._get_dummy_images(width=side, height=side, num_images=mm_counts["image"])
        if mm_counts.get("video"):
            data["video"] = [(frames, {"audio": waveform, "fps": 8.0})] * mm_counts["video"]
        if mm_counts.get("audio"):
            data["audio"] = [waveform] * mm_counts["audio"]
        return data


def _fields(hf_inputs: Mapping[str, torch.Tensor]) -> dict[str, MultiModalFieldConfig]:
    fields = {}
    for kind in KINDS:
        if f"{kind}_windows" not in hf_inputs:
            continue
        windows = hf_inputs[f"{kind}_windows"]
        fields[f"{kind}_windows"] = MultiModalFieldConfig.batched(kind, keep_on_cpu=True)
        fields[f"{kind}_mel"] = MultiModalFieldConfig.flat_from_sizes(kind, windows)
        fields[f"{kind}_mel_valid"] = MultiModalFieldConfig.flat_from_sizes(kind, windows, keep_on_cpu=True)
        if kind != "audio":
            fields[f"{kind}_frames"] = MultiModalFieldConfig.batched(kind)
            fields[f"{kind}_faces"] = MultiModalFieldConfig.batched(kind)
    return fields


class EmoLLMMultiModalProcessor(BaseMultiModalProcessor[EmoLLMProcessingInfo]):
    def _call_hf_processor(self, hf_data: Mapping[str, object], hf_kwargs: Mapping[str, object]) -> BatchFeature:
        processor = self.info.emollm_processor
        items = {"image": [(_rgb(image)[None], None) for image in hf_data.get("images", [])],
                 "video": [_video_item(video) for video in hf_data.get("videos", [])],
                 "audio": [(None, np.asarray(audio, np.float32).reshape(-1)) for audio in hf_data.get("audio", [])]}
        out: dict[str, torch.Tensor] = {}
        for kind, decoded in items.items():
            if not decoded:
                continue
            clips = [_clip(processor, frames, waveform) for frames, waveform in decoded]
            out.update(_tensors(processor, kind, clips))
        return BatchFeature(out)

    def _get_mm_fields_config(self, hf_inputs: BatchFeature, hf_processor_mm_kwargs: Mapping[str, object]):
        return _fields(hf_inputs)

    def _get_prompt_updates(self, mm_items: MultiModalDataItems, hf_processor_mm_kwargs: Mapping[str, object],
                            out_mm_kwargs: MultiModalKwargsItems) -> Sequence[PromptUpdate]:
        tokenizer = self.info.get_tokenizer()
        updates = []
        for kind in KINDS:
            if kind not in mm_items:
                continue

            def replacement(index: int, kind=kind) -> list[int]:
                windows = int(out_mm_kwargs[kind][index][f"{kind}_windows"].data)
                clip = ClipMedia(frames=None if kind == "audio" else np.zeros(1),
                                 waveform=np.ones(1, np.float32) if windows else None)
                return self.info.placeholder_ids(kind, clip)

            target = tokenizer.encode(PROMPT_PLACEHOLDERS[kind], add_special_tokens=False)
            updates.append(PromptReplacement(modality=kind, target=target, replacement=replacement))
        return updates


def _rgb(image) -> np.ndarray:
    return np.asarray(image.convert("RGB")) if hasattr(image, "convert") else np.asarray(image, np.uint8)


def _video_item(video) -> tuple[np.ndarray, np.ndarray | None]:
    frames, metadata = video if isinstance(video, tuple) else (video, None)
    waveform = (metadata or {}).get("audio")
    return np.asarray(frames), None if waveform is None else np.asarray(waveform, np.float32)


def _clip(processor: EmoLLMProcessor, frames: np.ndarray | None, waveform: np.ndarray | None) -> ClipMedia:
    if waveform is not None:  # the readers' cap (max_audio_seconds), which vLLM's audio decoding doesn't apply
        waveform = waveform[: int(processor.max_audio_seconds * processor.feature_extractor.sampling_rate)]
    clip = ClipMedia(waveform=waveform)
    if frames is not None:
        if len(frames) > processor.num_frames:  # vLLM's own loader sampled more frames than the model takes
            frames = frames[np.linspace(0, len(frames) - 1, processor.num_frames).round().astype(int)]
        processor.add_frames(clip, frames)
    return clip


def _tensors(processor: EmoLLMProcessor, kind: str, clips: list[ClipMedia]) -> dict[str, torch.Tensor]:
    """One modality's items -> `{kind}_*` tensors: pixels per item, Whisper windows per item (0 when
    a video has no sound)."""
    out: dict[str, torch.Tensor] = {}
    tensors = processor.media_tensors(clips)
    if kind != "audio":
        out[f"{kind}_frames"] = tensors["frames_pixel_values"]
        out[f"{kind}_faces"] = tensors["face_pixel_values"]
    windows = torch.zeros(len(clips), dtype=torch.long)
    if "audio_sample_index" in tensors:
        windows[tensors["audio_sample_index"]] = tensors["audio_window_counts"]
        out[f"{kind}_mel"] = tensors["audio_input_features"]
        out[f"{kind}_mel_valid"] = tensors["audio_valid_frames"]
    else:
        out[f"{kind}_mel"] = torch.zeros(0, processor.feature_extractor.feature_size, 0)  # widened when batched
        out[f"{kind}_mel_valid"] = torch.zeros(0, dtype=torch.long)
    out[f"{kind}_windows"] = windows
    return out
