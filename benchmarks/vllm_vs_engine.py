"""vLLM (with the EmoLLM plugin) vs EmoLLM's own engine (`emollm serve`), in one run, printed as Markdown:

* the same model directory and the same 8 clips through both OpenAI servers (the `openai` client,
  video turns, greedy, 16 new tokens, every clip seen once before: both cache a clip's media by
  content): throughput and p50 / p95 latency at 1, 4 and 16 concurrent clients, and the ratio
  vLLM / own engine;
* decode tokens/s of a random-init LLM of nano-2b's size (Qwen2.5-1.5B's shape, bf16, batch 1):
  vLLM-CPU (`load_format="dummy"`: random weights, nothing written) vs HF `generate`, both on this
  machine's cores.

The model is `--model` (default: `make demo`'s final model when it exists, else a random tiny
preset, which serves the same prompt shapes). Needs the vLLM environment (`make install-vllm`);
without it this prints why and exits 0, so `make bench` goes on.
Run: `.venv/bin/python benchmarks/vllm_vs_engine.py` (about 10 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# Run as a script, this folder comes first on sys.path and its file names would shadow the packages.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
DEMO_MODEL = REPO / "runs" / "demo" / "train-n560" / "final"
CLIENTS = (1, 4, 16)
NEW_TOKENS = 16
# Qwen2.5-1.5B's shape (nano-2b's LLM), random weights
NANO_LLM = {"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"], "hidden_size": 1536,
            "intermediate_size": 8960, "num_hidden_layers": 28, "num_attention_heads": 12, "num_key_value_heads": 2,
            "vocab_size": 151936, "max_position_embeddings": 4096, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
            "tie_word_embeddings": True, "torch_dtype": "bfloat16", "hidden_act": "silu"}
NANO_PROMPT, NANO_TOKENS = 64, 32
RESULT_MARK = "nano-vllm-result: "  # vLLM logs to stdout too


def clips(folder: Path, count: int = 8) -> list[Path]:
    from data_pipeline.schema import read_records
    from data_pipeline.synthetic import generate_synthetic

    records = read_records(generate_synthetic(folder, n=count, seed=3, progress=False))
    return sorted({Path(r.media.visual_path) for r in records if r.media.video})[:count]


def ask(client, model: str, clip: Path) -> tuple[float, int]:
    import base64

    url = "data:video/mp4;base64," + base64.b64encode(clip.read_bytes()).decode()
    messages = [{"role": "user", "content": [{"type": "video_url", "video_url": {"url": url}},
                                             {"type": "text", "text": "Which emotion does this person show?"}]}]
    started = time.perf_counter()
    reply = client.chat.completions.create(model=model, messages=messages, temperature=0, max_tokens=NEW_TOKENS)
    return time.perf_counter() - started, reply.usage.completion_tokens


def load(client, model: str, media: list[Path], concurrency: int) -> dict:
    requests = [media[i % len(media)] for i in range(max(2 * concurrency, 8))]
    for clip in media:  # warm: every clip decoded and encoded once (both servers cache a clip's media by content)
        ask(client, model, clip)
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(lambda clip: ask(client, model, clip), requests))
    wall = time.perf_counter() - started
    latencies = sorted(r[0] for r in results)
    return {"requests": len(results), "req_s": len(results) / wall, "tok_s": sum(r[1] for r in results) / wall,
            "p50": statistics.median(latencies), "p95": latencies[min(len(latencies) - 1, round(0.95 * len(latencies)))]}


def serving_table(model_dir: Path, vllm_python: Path, work: Path) -> list[list]:
    import openai

    from serve.api import APISettings, create_app
    from serve.engine import Engine, EngineLimits
    from serve.server import start_in_thread
    from serve.vllm_plugin.process import VllmServer

    media = clips(work / "clips")
    rows = []
    engine = Engine.from_pretrained(model_dir, EngineLimits(max_batch_size=16, max_concurrent_requests=64))
    ours = start_in_thread(create_app(engine, APISettings(served_model_names=[model_dir.name])))
    client = openai.OpenAI(base_url=f"{ours.url}/v1", api_key="x", max_retries=0, timeout=900)
    own = {c: load(client, model_dir.name, media, c) for c in CLIENTS}
    ours.stop()
    engine.close()
    vllm = VllmServer(model_dir, work / "vllm.log", vllm_python).wait_ready()
    try:
        client = openai.OpenAI(base_url=f"{vllm.url}/v1", api_key="x", max_retries=0, timeout=900)
        theirs = {c: load(client, model_dir.name, media, c) for c in CLIENTS}
    finally:
        vllm.stop()
    for c in CLIENTS:
        for name, result in (("emollm serve", own[c]), ("vllm serve", theirs[c])):
            rows.append([c, name, result["requests"], f"{result['req_s']:.2f}", f"{result['tok_s']:.1f}",
                         f"{result['p50']:.2f}", f"{result['p95']:.2f}"])
        rows.append([c, "ratio vLLM / own", "", f"{theirs[c]['req_s'] / own[c]['req_s']:.2f}",
                     f"{theirs[c]['tok_s'] / own[c]['tok_s']:.2f}", f"{theirs[c]['p50'] / own[c]['p50']:.2f}",
                     f"{theirs[c]['p95'] / own[c]['p95']:.2f}"])
    return rows


def nano_config_dir(work: Path) -> Path:
    folder = work / "nano-llm"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(NANO_LLM))
    return folder


def nano_vllm_worker(folder: str) -> None:
    """Runs in the vLLM environment: prints decode tokens/s as JSON."""
    from vllm import LLM, SamplingParams

    llm = LLM(model=folder, skip_tokenizer_init=True, load_format="dummy", dtype="bfloat16", max_model_len=512,
              enforce_eager=True)
    prompt = {"prompt_token_ids": list(range(100, 100 + NANO_PROMPT))}
    short, long = (SamplingParams(max_tokens=n, ignore_eos=True, temperature=0, detokenize=False)
                   for n in (1, NANO_TOKENS + 1))
    llm.generate([prompt], short)  # warm
    started = time.perf_counter()
    llm.generate([prompt], short)
    prefill = time.perf_counter() - started
    started = time.perf_counter()
    llm.generate([prompt], long)
    print(RESULT_MARK + json.dumps({"tok_s": NANO_TOKENS / (time.perf_counter() - started - prefill)}), flush=True)


def nano_hf(folder: Path) -> float:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(folder), dtype=torch.bfloat16).eval()
    ids = torch.arange(100, 100 + NANO_PROMPT)[None]
    timings = {}
    with torch.inference_mode():
        model.generate(ids, max_new_tokens=1, do_sample=False)  # warm
        for n in (1, NANO_TOKENS + 1):
            started = time.perf_counter()
            model.generate(ids, max_new_tokens=n, min_new_tokens=n, do_sample=False)
            timings[n] = time.perf_counter() - started
    return NANO_TOKENS / (timings[NANO_TOKENS + 1] - timings[1])


def main() -> int:
    from tabulate import tabulate

    from serve.vllm_plugin.process import vllm_python

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="an EmoLLM model directory (default: the demo's, else random tiny)")
    parser.add_argument("--skip-nano", action="store_true", help="only the serving table")
    args = parser.parse_args()
    python = vllm_python()
    if python is None:
        print("vllm_vs_engine: skipped, no vLLM environment (.venv-vllm): run `make install-vllm` first")
        return 0
    with tempfile.TemporaryDirectory(prefix="vllm_vs_engine_") as folder:
        work = Path(folder)
        model_dir = args.model or (DEMO_MODEL if (DEMO_MODEL / "config.json").exists() else None)
        if model_dir is None:
            from emollm.presets import init_model_dir

            model_dir = init_model_dir("tiny", work / "tiny")
            print("model: a random tiny preset (no `make demo` model found)")
        print(f"model: {model_dir}; {os.cpu_count()} cores; float32 in both servers; {NEW_TOKENS} new tokens, greedy\n")
        print(tabulate(serving_table(Path(model_dir), python, work), tablefmt="github",
                       headers=["clients", "server", "requests", "req/s", "new tok/s", "p50 s", "p95 s"]))
        if not args.skip_nano:
            nano = nano_config_dir(work)
            done = subprocess.run([str(python), __file__, "--nano-vllm-worker", str(nano)], capture_output=True,
                                  text=True, env={**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}, cwd=REPO)
            if done.returncode:
                print(done.stderr[-3000:])
                return 1
            result = next(line for line in done.stdout.splitlines() if line.startswith(RESULT_MARK))
            vllm_rate = json.loads(result[len(RESULT_MARK):])["tok_s"]
            hf_rate = nano_hf(nano)
            print(f"\nnano-2b-sized LLM (Qwen2.5-1.5B shape, random, bf16, batch 1, {NANO_PROMPT}-token prompt, "
                  f"{NANO_TOKENS} tokens)\n")
            print(tabulate([["vLLM-CPU", f"{vllm_rate:.2f}"], ["HF generate", f"{hf_rate:.2f}"],
                            ["ratio vLLM / HF", f"{vllm_rate / hf_rate:.2f}"]],
                           headers=["decoder", "decode tok/s"], tablefmt="github"))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--nano-vllm-worker":
        nano_vllm_worker(sys.argv[2])
    else:
        sys.exit(main())
