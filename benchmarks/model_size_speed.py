"""Model size and speed: parameters per component and multimodal tokens per clip for nano-2b
(built on the meta device: nothing downloaded), and per-clip forward latency on CPU for tiny
and for nano-2b at random init (a real-size forward with random weights).

    python benchmarks/model_size_speed.py [--skip-nano] [--repeats 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from data_pipeline.writer import write_video
from emollm.cli_model import format_table, model_summary
from emollm.presets import build_config, build_model, build_processor, load_preset, load_tokenizer


def make_clip(directory: Path) -> Path:
    """An 8 s 640x360 clip with a speech-like audio track."""
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (64, 360, 640, 3), dtype=np.uint8)
    t = np.arange(8 * 16000) / 16000
    audio = (0.3 * np.sin(2 * np.pi * (180 + 40 * np.sin(3 * t)) * t)).astype(np.float32)
    path = directory / "clip.mp4"
    write_video(path, frames, fps=8, audio=audio)
    return path


def random_model(preset_name: str, dtype: torch.dtype):
    """Real-size model with random weights (towers and LLM at their random init)."""
    preset = load_preset(preset_name)
    tokenizer = load_tokenizer(preset) if preset_name == "tiny" else None
    config = build_config(preset, tokenizer)
    if tokenizer is None:  # real tokenizer unavailable offline: placeholder ids at the top of the vocabulary
        vocab = config.text_config.vocab_size
        config.placeholder_token_ids = {m: vocab - 1 - i for i, m in enumerate(("frames", "face", "audio", "fusion"))}
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # build directly in the benchmark dtype (halves peak memory for bf16)
    try:
        model = build_model(config)
    finally:
        torch.set_default_dtype(previous)
    return model.eval(), preset, config, tokenizer


def forward_latency(preset_name: str, clip: Path, repeats: int, dtype: torch.dtype) -> dict:
    model, preset, config, tokenizer = random_model(preset_name, dtype)
    if tokenizer is None:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(Path(__file__).resolve().parents[1] / "emollm/assets/tiny_tokenizer"))
    processor = build_processor(preset, config, tokenizer)
    start = time.perf_counter()
    media = processor.load_media(video=clip)
    decode_s = time.perf_counter() - start
    batch = processor.media_tensors([media])
    tokens = sum(processor.num_tokens.values())
    ids = torch.full((1, tokens + 32), 1, dtype=torch.long)
    cursor = 0
    for modality, count in processor.num_tokens.items():
        ids[0, cursor:cursor + count] = config.placeholder_token_ids[modality]
        cursor += count
    timings = []
    with torch.no_grad():
        for _ in range(repeats):
            start = time.perf_counter()
            model(input_ids=ids, **batch)
            timings.append(time.perf_counter() - start)
    return {"preset": preset_name, "dtype": str(dtype).removeprefix("torch."), "decode_s": decode_s,
            "forward_s": float(np.median(timings)), "tokens": tokens}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-nano", action="store_true", help="skip the real-size nano-2b forward")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)

    summary = model_summary("nano-2b")
    print("## nano-2b components (meta device, nothing downloaded)\n")
    print(format_table(summary))
    print(f"\n{summary['total_parameters'] / 1e9:.3f} B parameters, "
          f"{summary['multimodal_tokens_per_clip']} multimodal tokens per 8-frame clip with audio\n")

    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(Path(tmp))
        rows = [forward_latency("tiny", clip, args.repeats, torch.float32)]
        if not args.skip_nano:
            rows.append(forward_latency("nano-2b", clip, args.repeats, torch.bfloat16))
    print(f"## Per-clip forward latency on CPU ({torch.get_num_threads()} threads; 8 s 640x360 clip with audio)\n")
    from data_pipeline.tables import markdown_table

    print(markdown_table(["preset", "dtype", "decode + face step (s)", "forward (s)", "multimodal tokens"],
                         [[r["preset"], r["dtype"], f"{r['decode_s']:.3f}", f"{r['forward_s']:.3f}", r["tokens"]]
                          for r in rows], ["left", "left", "right", "right", "right"]))


if __name__ == "__main__":
    main()
