"""`emollm info` and `emollm init`: inspect a preset or model directory, write a new model dir."""

from __future__ import annotations

import json
from pathlib import Path


def register(subparsers) -> None:
    info = subparsers.add_parser("info", help="parameters, trainable parameters, dtype and tokens per clip")
    info.add_argument("model", help="preset name (tiny, nano-2b), preset YAML, or model directory")
    info.add_argument("--json", action="store_true", help="print JSON instead of a table")
    info.set_defaults(func=run_info)

    init = subparsers.add_parser("init", help="write an initial model directory from a preset")
    init.add_argument("--preset", required=True, help="preset name or YAML path")
    init.add_argument("--out", required=True, help="output directory")
    init.add_argument("--random", action="store_true",
                      help="random init even where the preset names pretrained weights")
    init.add_argument("--seed", type=int, default=0, help="seed of the random init (default 0)")
    init.set_defaults(func=run_init)


def model_summary(name_or_dir: str) -> dict:
    """Build the model on the meta device (nothing downloaded, no memory) and count per component."""
    import torch

    from data_pipeline.errors import ConfigError
    from emollm.configuration_emollm import EmoLLMConfig
    from emollm.presets import build_config, build_model, load_preset, load_tokenizer

    path = Path(name_or_dir)
    if (path / "config.json").exists():
        config = EmoLLMConfig.from_pretrained(path)
    else:
        preset = load_preset(name_or_dir)
        try:  # a random-init LLM's vocabulary is sized to its tokenizer (the tiny one ships)
            tokenizer = load_tokenizer(preset)
        except ConfigError:  # not downloaded here: the preset's own vocab_size counts
            tokenizer = None
        config = build_config(preset, tokenizer)
    with torch.device("meta"):
        model = build_model(config)
    rows = []
    for name, module in model.components().items():
        params = list(module.parameters())
        rows.append({
            "component": name,
            "parameters": sum(p.numel() for p in params),
            "trainable": sum(p.numel() for p in params if p.requires_grad),
            "dtype": str(params[0].dtype).removeprefix("torch.") if params else "-",
            "tokens_per_clip": config.num_tokens(name.split(".")[-1]) if name.startswith("adapter.") else None,
        })
    lora = [p for n, p in model.named_parameters() if "lora_" in n]
    rows.append({"component": "lora", "parameters": sum(p.numel() for p in lora),
                 "trainable": sum(p.numel() for p in lora if p.requires_grad), "dtype": "-", "tokens_per_clip": None})
    return {
        "model": name_or_dir,
        "components": rows,
        "total_parameters": sum(p.numel() for p in model.parameters()),  # tied weights counted once
        "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "multimodal_tokens_per_clip": sum(config.num_tokens(m) for m in config.active_modalities),
        "num_frames": config.specs.media.num_frames,
    }


def format_table(summary: dict) -> str:
    from data_pipeline.tables import markdown_table

    rows = [[row["component"], f"{row['parameters']:,}", f"{row['trainable']:,}", row["dtype"],
             row["tokens_per_clip"] if row["tokens_per_clip"] is not None else ""] for row in summary["components"]]
    rows.append(["**total**", f"**{summary['total_parameters']:,}**", f"{summary['trainable_parameters']:,}", "",
                 f"**{summary['multimodal_tokens_per_clip']}**"])
    return markdown_table(["component", "parameters", "trainable", "dtype", "tokens/clip"], rows,
                          ["left", "right", "right", "left", "right"])


def run_info(args) -> int:
    summary = model_summary(args.model)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(format_table(summary))
        print(f"\n{summary['total_parameters'] / 1e9:.3f} B parameters; "
              f"{summary['multimodal_tokens_per_clip']} multimodal tokens per {summary['num_frames']}-frame clip with audio")
    return 0


def run_init(args) -> int:
    from emollm.presets import init_model_dir

    out = init_model_dir(args.preset, args.out, load_weights=not args.random, seed=args.seed)
    print(f"wrote {out}")
    return 0
