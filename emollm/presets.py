"""Model presets: YAML files under emollm/configs/model/ (shipped with the package, validated on
load), and the thin builders that turn one into a config, a processor and a model.

Component builders (`build_config`, `build_processor`, `build_model`) take a `Preset`; a preset
is only data, so a new size is a new YAML file.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from data_pipeline.errors import ConfigError, validation_message
from emollm.configuration_emollm import MODALITIES, PLACEHOLDERS, EmoLLMConfig
from emollm.packaged import find_config, shipped

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]  # the checkout, or site-packages for a wheel install


class ImageProcessorSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: int = 224
    pretrained: str | None = None  # the frames' mean/std from this processor (default: the frames tower's)


class Preset(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    tokenizer: str
    text_pretrained: str | None = None
    text: dict
    frames: dict | None = None
    face: dict | None = None
    audio: dict | None = None
    towers: dict = Field(default_factory=dict)
    adapters: dict = Field(default_factory=dict)
    fusion: dict = Field(default_factory=dict)
    media: dict = Field(default_factory=dict)
    image_processor: ImageProcessorSpec = Field(default_factory=ImageProcessorSpec)
    face_size: int = 224
    # longer side of the frames the face detector searches (the crops come from the full frames)
    face_detect_side: int = 320


def available_presets() -> list[str]:
    return shipped("model")


def load_preset(name_or_path: str | Path) -> Preset:
    """A shipped preset by name ("tiny") or a preset YAML file by path."""
    path = find_config("model", name_or_path)
    if not path.is_file():
        raise ConfigError(f"unknown preset {str(name_or_path)!r}; known presets: {', '.join(available_presets())}")
    try:
        return Preset.model_validate(yaml.safe_load(path.read_text()))
    except ValidationError as error:
        raise ConfigError(f"{path}: {validation_message(error)}") from None


def build_config(preset: Preset, tokenizer=None) -> EmoLLMConfig:
    config = EmoLLMConfig(
        text_config=dict(preset.text), frame_config=preset.frames, face_config=preset.face,
        audio_config=preset.audio, towers=preset.towers, adapters=preset.adapters, fusion=preset.fusion,
        media=preset.media, text_pretrained=preset.text_pretrained)
    if tokenizer is not None:
        attach_tokenizer(config, tokenizer)
    return config


def attach_tokenizer(config: EmoLLMConfig, tokenizer) -> None:
    """Add the placeholder tokens to the tokenizer (if missing) and record their ids."""
    missing = [p for p in PLACEHOLDERS.values() if p not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_special_tokens({"additional_special_tokens": missing})
    config.placeholder_token_ids = {m: tokenizer.convert_tokens_to_ids(PLACEHOLDERS[m]) for m in MODALITIES}
    text = config.text_config
    if config.text_pretrained is None:  # random init: size the vocabulary to the tokenizer
        text.vocab_size = -(-len(tokenizer) // 64) * 64
    elif len(tokenizer) > text.vocab_size:
        text.vocab_size = len(tokenizer)
    text.pad_token_id = tokenizer.pad_token_id
    text.eos_token_id = tokenizer.eos_token_id


def resolve_asset(path_or_id: str) -> str:
    """Project-relative asset paths (the tiny tokenizer) resolve against the repo; others are hub ids."""
    candidate = REPO_ROOT / path_or_id
    return str(candidate) if candidate.exists() else path_or_id


def load_tokenizer(preset: Preset):
    from transformers import AutoTokenizer

    source = resolve_asset(preset.tokenizer)
    try:
        return AutoTokenizer.from_pretrained(source)
    except OSError as error:
        raise ConfigError(f"tokenizer {source!r} is not available locally (no download here): {error}") from None


def build_processor(preset: Preset, config: EmoLLMConfig, tokenizer, pretrained_stats: bool = False):
    """With `pretrained_stats`, each vision tower's pixels are normalised with the statistics its
    own checkpoint was trained with (its preprocessor_config.json): CLIP's for the frames, the
    face checkpoint's for the face crops (a ViT-B/16 uses 0.5 / 0.5, not CLIP's)."""
    from transformers import CLIPImageProcessorPil as CLIPImageProcessor  # no torchvision needed
    from transformers import WhisperFeatureExtractor

    from emollm.processing_emollm import EmoLLMProcessor

    specs = config.specs
    size = preset.image_processor.size
    own = preset.image_processor.pretrained
    frames_source = (own, None) if own else _tower_source(specs, "frames")
    frames_stats = _pixel_statistics(*frames_source) if pretrained_stats and frames_source[0] else {}
    image_processor = CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size},
                                         **frames_stats)
    face_source = _tower_source(specs, "face")
    face_stats = _pixel_statistics(*face_source) if pretrained_stats and face_source[0] else {}
    mel_bins = config.audio_config.num_mel_bins if config.audio_config is not None else 80
    feature_extractor = WhisperFeatureExtractor(feature_size=mel_bins)
    return EmoLLMProcessor(
        image_processor=image_processor, feature_extractor=feature_extractor, tokenizer=tokenizer,
        chat_template=tokenizer.chat_template, num_frames=specs.media.num_frames, face_size=preset.face_size,
        face_detect_side=preset.face_detect_side,
        num_tokens={m: config.num_tokens(m) for m in config.active_modalities},
        max_audio_seconds=specs.media.max_audio_seconds, audio_window_seconds=specs.media.audio_window_seconds,
        audio_length=specs.media.audio_length, frame_backend=specs.media.frame_backend,
        face_image_mean=face_stats.get("image_mean"), face_image_std=face_stats.get("image_std"))


def _tower_source(specs, modality: str) -> tuple[str | None, str | None]:
    spec = specs.towers.get(modality)
    return (spec.pretrained, spec.revision) if spec is not None else (None, None)


def _pixel_statistics(source: str, revision: str | None = None) -> dict:
    """image_mean / image_std from a checkpoint's preprocessor_config.json (hub cache or folder)."""
    from transformers import ImageProcessingMixin

    try:
        values, _ = ImageProcessingMixin.get_image_processor_dict(source, revision=revision)
    except OSError as error:
        raise ConfigError(f"{source}: no image processor config available locally (no download here): "
                          f"{error}") from None
    missing = [k for k in ("image_mean", "image_std") if k not in values]
    if missing:
        raise ConfigError(f"{source}: its image processor config lacks {', '.join(missing)}")
    return {k: [float(v) for v in values[k]] for k in ("image_mean", "image_std")}


def build_model(config: EmoLLMConfig, load_weights: bool = False, seed: int | None = None):
    """Random init everywhere; with `load_weights`, towers and LLM come from their named sources.
    With `seed`, the random init is that seed's (the global RNG is left as it was)."""
    from emollm.modeling_emollm import EmoLLMForConditionalGeneration

    with _seeded(seed):
        model = EmoLLMForConditionalGeneration(config)
    if load_weights:
        _load_component_weights(model, config)
    return model


@contextmanager
def _seeded(seed: int | None):
    """Torch's RNG seeded with `seed` inside, restored after (None: the global RNG as it is)."""
    if seed is None:
        yield
        return
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _load_component_weights(model, config: EmoLLMConfig) -> None:
    """Every named part loads strictly: all the keys it expects, none it doesn't know, same shapes
    (`TowerLoadError` names them otherwise), so a renamed key can't leave a part random."""
    from emollm.towers import build_tower

    specs = config.specs
    for modality, tower in model.towers.items():
        spec = specs.towers.get(modality)
        if spec is not None and spec.pretrained:
            sub_config = {"frames": config.frame_config, "face": config.face_config, "audio": config.audio_config}[modality]
            _copy_strictly(tower, build_tower(sub_config, spec, load_weights=True), spec.pretrained)
            logger.info("tower %s from %s", modality, spec.pretrained)
    if config.text_pretrained:
        llm = _load_llm(config.text_pretrained, config.text_revision)
        llm.resize_token_embeddings(config.text_config.vocab_size)
        _copy_strictly(model.language_model, llm, config.text_pretrained)
        logger.info("LLM from %s", config.text_pretrained)
    model.freeze()


def _load_llm(source: str, revision: str | None):
    from transformers import AutoModelForCausalLM

    from emollm.towers import TowerLoadError, check_loading_info

    try:
        llm, info = AutoModelForCausalLM.from_pretrained(source, revision=revision, output_loading_info=True)
    except OSError as error:
        raise TowerLoadError(f"LLM {source!r} is not available locally (no download here): {error}") from None
    check_loading_info(source, info["missing_keys"], info["unexpected_keys"], info["mismatched_keys"])
    return llm


def _copy_strictly(target, loaded, source: str) -> None:
    """Copy `loaded`'s weights into the part built from the preset: the preset's sub-config must
    describe the checkpoint (same keys and shapes), else an error names the difference."""
    from emollm.towers import check_loading_info

    theirs, ours = loaded.state_dict(), target.state_dict()
    mismatched = [f"{k} {tuple(v.shape)} vs the preset's {tuple(ours[k].shape)}"
                  for k, v in theirs.items() if k in ours and v.shape != ours[k].shape]
    check_loading_info(f"{source} (against the preset's config)", sorted(set(ours) - set(theirs)),
                       sorted(set(theirs) - set(ours)), mismatched)
    target.load_state_dict(theirs, strict=True)


def create(preset_name: str, load_weights: bool = False, seed: int | None = None):
    """Preset name or YAML path -> (model, processor), ready for `save_pretrained`."""
    preset = load_preset(preset_name)
    tokenizer = load_tokenizer(preset)
    config = build_config(preset, tokenizer)
    processor = build_processor(preset, config, tokenizer, pretrained_stats=load_weights)
    model = build_model(config, load_weights=load_weights, seed=seed)
    return model, processor


def init_model_dir(preset_name: str, out_dir: str | Path, load_weights: bool = True, seed: int = 0) -> Path:
    """Write a self-contained model directory (weights, config, processor, tokenizer). The parts
    without pretrained weights are initialised from `seed`: the same preset and seed write the
    same weights."""
    model, processor = create(preset_name, load_weights=load_weights, seed=seed)
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    from emollm.model_card import write_model_card

    write_model_card(out_dir, base=f"preset {preset_name}" + ("" if load_weights else " (random init)"),
                     training="none: initial weights (towers and LLM from their sources, fresh adapters and fusion)",
                     data="none yet")
    return out_dir
