"""nano-2b at interactive speed on a CPU: latency of the real-size model served by `emollm serve`,
beside this machine's own limits measured in the same run. Prints Markdown tables.

    .venv/bin/python benchmarks/cpu_latency.py [--threads 2] [--tokens 48] [--workdir DIR]

What it does, offline (nothing is downloaded):
1. measures the machine: a bf16 2048x2048 matmul (GFLOP/s) and a pure read (fp32 sum over 1 GiB
   on transparent huge pages, as the served weights are; GB/s), on `--threads` threads;
2. builds a random nano-2b with `emollm init --preset nano-2b --random`, the tiny tokenizer standing
   in for Qwen's in a temporary `HF_HOME` laid out like the hub cache, and saves it in bf16;
3. writes a 10 s 1280x720 x264 clip with audio, and times each stage in a child process (decoding +
   faces + audio, each tower, the adapters, the LLM prefill) on the model as `emollm serve` runs it
   (emollm.cpu_inference), counting each stage's FLOPs with `torch.utils.flop_counter` on the model
   as transformers builds it;
4. serves the model with `emollm serve` (a real server on 127.0.0.1, the real `openai` client,
   streamed), one server per way of serving: bf16 (the default), bf16 as transformers builds it
   (`--no-cpu-optimizations`), int8 and int4 (`--serving` adds compiled towers and decode step).
   Each server in turn, after one warm-up request about another clip: time to first token of the
   first turn about the 720p clip (not seen before). Then, with all of them up (an idle server
   takes no CPU; the four default ones hold about 14 GB of memory), `--repeats` rounds that visit every server: time to first token of a second turn
   (the clip's features cached) and decoding speed, each measurement of decoding between two
   measurements of the read bandwidth.

Compute floor = the FLOPs of the towers on the clip + the LLM prefill of the prompt, at the matmul
rate; bf16 roofline = read bandwidth / bytes of the LLM's bf16 weights (each decoded token reads
them all once). This machine's read bandwidth moves between two levels (about 45 and 80 GB/s on
2 cores) for seconds to minutes at a time, so each decoding measurement is set against the
roofline of the better bandwidth measured just before and after it, and each format against bf16
measured in the same round; the tables give medians over the rounds.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import json
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

# Run as a script, this folder comes first on sys.path, and benchmarks/serve.py would shadow the
# `serve` package; the repo root goes first instead.
REPO = Path(__file__).resolve().parents[1]
sys.path[:] = [str(REPO)] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from emollm.allocator import huge_pages_for_tensors  # noqa: E402

# as `emollm serve` runs (before torch is imported): the stages (a spawned child inherits the variable),
# and the machine's read bandwidth, measured on the huge pages the served weights sit on
huge_pages_for_tensors()

import torch  # noqa: E402
from tabulate import tabulate  # noqa: E402

QUESTION = "How does the speaker feel in this clip? Answer with one emotion."
TOKENIZER_ID = "Qwen/Qwen2.5-1.5B-Instruct"  # what the nano-2b preset names
STANDIN_REVISION = "0" * 40


# --- the machine ---------------------------------------------------------------------------------
def _best_seconds(function, repeats: int) -> float:
    """The best of `repeats` timed calls, after one untimed (warm-up) call."""
    function()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def matmul_gflops(threads: int, size: int = 2048, repeats: int = 10) -> float:
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size, dtype=torch.bfloat16), torch.randn(size, size, dtype=torch.bfloat16)
    return 2 * size**3 / _best_seconds(lambda: a @ b, repeats) / 1e9


@functools.cache
def _read_buffer() -> torch.Tensor:
    return torch.ones(2**28, dtype=torch.float32)  # 1 GiB, allocated once (on huge pages, see above)


def read_gbs(threads: int, repeats: int = 10) -> float:
    torch.set_num_threads(threads)
    data = _read_buffer()
    return data.numel() * 4 / _best_seconds(data.sum, repeats) / 1e9


# --- the model -----------------------------------------------------------------------------------
def standin_hf_home(root: Path) -> Path:
    """A hub cache where the tiny tokenizer answers to Qwen's id (offline `AutoTokenizer` finds it)."""
    repo = root / "hub" / ("models--" + TOKENIZER_ID.replace("/", "--"))
    snapshot = repo / "snapshots" / STANDIN_REVISION
    snapshot.mkdir(parents=True, exist_ok=True)
    for item in (REPO / "emollm" / "assets" / "tiny_tokenizer").iterdir():
        shutil.copy(item, snapshot / item.name)
    (snapshot / "config.json").write_text(json.dumps({"model_type": "qwen2"}))
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(STANDIN_REVISION)
    return root


def build_model_dir(work: Path, env: dict, preset: str) -> Path:
    """`emollm init --preset nano-2b --random` (saved in fp32), re-saved in bf16 for serving."""
    from emollm import EmoLLMForConditionalGeneration, EmoLLMProcessor

    fp32, bf16 = work / f"{preset}-fp32", work / preset
    if (bf16 / "config.json").exists():
        return bf16
    subprocess.run([str(Path(sys.executable).parent / "emollm"), "init", "--preset", preset, "--random",
                    "--out", str(fp32)], check=True, env=env)
    model = EmoLLMForConditionalGeneration.from_pretrained(fp32, dtype=torch.bfloat16)
    model.save_pretrained(bf16)
    EmoLLMProcessor.from_pretrained(fp32).save_pretrained(bf16)
    del model
    gc.collect()
    shutil.rmtree(fp32)
    return bf16


def make_clip(path: Path, seconds: int = 10, width: int = 1280, height: int = 720) -> Path:
    """A 1280x720 x264 clip (veryfast: GOP 250, B-frames) with a 16 kHz voice-like track."""
    import numpy as np

    from data_pipeline.writer import write_video

    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    fps = 25
    texture = rng.integers(0, 60, (height // 8, width // 8, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
    ys, xs = np.mgrid[0:height, 0:width]
    frames = np.empty((fps * seconds, height, width, 3), dtype=np.uint8)
    for i in range(len(frames)):
        cx, cy = width / 2 + 400 * np.sin(i / 20), height / 2 + 200 * np.cos(i / 15)
        blob = ((xs - cx) ** 2 + (ys - cy) ** 2 < 120**2)[..., None]
        frames[i] = np.where(blob, (220, 170, 140), texture + (i % 50))
    t = np.arange(seconds * 16_000) / 16_000
    audio = (0.3 * np.sin(2 * np.pi * (180 + 40 * np.sin(3 * t)) * t)).astype(np.float32)
    write_video(path, frames, fps, audio, preset="veryfast")
    return path


def llm_weight_bytes(model) -> int:
    """Bytes of the LLM's weights as stored (tied embeddings once): what one decoded token reads."""
    seen, total = set(), 0
    for tensor in list(model.language_model.parameters()) + list(model.language_model.buffers()):
        if tensor.data_ptr() not in seen:
            seen.add(tensor.data_ptr())
            total += tensor.numel() * tensor.element_size()
    return total


# --- stages, timed in a child process ------------------------------------------------------------
def count_flops(function) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        function()
    return counter.get_total_flops()


def stage_timings(model_dir: Path, clip: Path, threads: int) -> tuple[list[dict], dict]:
    """Each stage of a first turn, timed on the model as `emollm serve` runs it by default
    (emollm.cpu_inference); FLOPs are counted on the model as transformers builds it (the counter
    knows aten's matmuls, not oneDNN's prepacked ones)."""
    from emollm import EmoLLMForConditionalGeneration, EmoLLMProcessor
    from emollm.cpu_inference import optimize_for_cpu

    torch.set_num_threads(threads)
    model = EmoLLMForConditionalGeneration.from_pretrained(model_dir).eval().requires_grad_(False)
    processor = EmoLLMProcessor.from_pretrained(model_dir)
    facts = {"llm_bytes_bf16": llm_weight_bytes(model)}
    rows = []
    processor.load_media(video=str(clip))  # warm-up: codec and detector set-up
    start = time.perf_counter()
    media = processor.load_media(video=str(clip))
    rows.append({"stage": "decode 8 frames + faces + audio", "seconds": time.perf_counter() - start})
    conversation = [[{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": QUESTION}]}]]
    start = time.perf_counter()
    batch = processor(conversation, [media], add_generation_prompt=True)
    rows.append({"stage": "image processor + log-mel + tokenizer", "seconds": time.perf_counter() - start})
    tower_inputs = {"frames": {"frames_pixel_values": batch["frames_pixel_values"]},
                    "face": {"face_pixel_values": batch["face_pixel_values"]},
                    "audio": {k: batch[k] for k in ("audio_input_features", "audio_valid_frames", "audio_window_counts")}}
    names = {"frames": "CLIP-L on 8 frames", "face": "ViT-B on 8 faces", "audio": "Whisper-medium encoder on 10 s"}
    with torch.no_grad():  # not inference_mode: the FLOP counter's module hooks need ordinary tensors
        features = {}
        for inputs in tower_inputs.values():
            features.update(model.encode_towers(**inputs))
        ids = batch["input_ids"]
        embeds = model.build_inputs_embeds(ids, tower_features=features)
        stages = [(names[m], lambda inputs=inputs: model.encode_towers(**inputs), {"floor": True})
                  for m, inputs in tower_inputs.items()]
        stages.append(("adapters + fusion", lambda: model.project_features(features), {}))
        stages.append((f"LLM prefill of {ids.shape[1]} tokens",
                       lambda: model.language_model(inputs_embeds=embeds, use_cache=True, logits_to_keep=1),
                       {"floor": True, "prefill": True}))
        flops = [count_flops(function) for _, function, _ in stages]
        optimize_for_cpu(model)
        facts["attention"] = {m: t.config._attn_implementation for m, t in model.towers.items()}
        for (stage, function, marks), count in zip(stages, flops, strict=True):
            rows.append({"stage": stage, "seconds": _best_seconds(function, 2), "flops": count, **marks})
    facts["prompt_tokens"] = ids.shape[1]
    return rows, facts


# --- the served model ----------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`emollm serve` in a child process, stopped on exit."""

    def __init__(self, model_dir: Path, media_root: Path, threads: int, env: dict, log: Path, extra: list[str]):
        self.port = free_port()
        command = [str(Path(sys.executable).parent / "emollm"), "serve", "--model", str(model_dir), "--port",
                   str(self.port), "--threads", str(threads), "--no-ui", "--allowed-local-media-path",
                   str(media_root), *extra]
        self.log = log.open("w")
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self):
        import openai

        self.client = openai.OpenAI(base_url=self.url, api_key="bench", max_retries=0, timeout=1800)
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"emollm serve exited ({self.process.returncode}); see {self.log.name}")
            try:
                with urllib.request.urlopen(f"{self.url}/models", timeout=2):
                    return self
            except OSError:
                time.sleep(1)
        raise RuntimeError("emollm serve did not come up in 15 minutes")

    def __exit__(self, *exc):
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def chat(client, clip: Path, max_tokens: int) -> float:
    """Seconds from sending one streamed chat turn about the clip to its last chunk. With
    max_tokens=1 that chunk carries the first token: the time to first token. (A random model's
    tokens are often not whole characters, so their text is held back: timing the first chunk of
    a longer reply would time more than one token.)"""
    messages = [{"role": "user", "content": [{"type": "video_url", "video_url": {"url": clip.as_uri()}},
                                             {"type": "text", "text": QUESTION}]}]
    start = time.perf_counter()
    stream = client.chat.completions.create(model="nano-2b", messages=messages, max_tokens=max_tokens,
                                            temperature=0, stream=True, stream_options={"include_usage": True},
                                            extra_body={"ignore_eos": True})
    usage = None
    for chunk in stream:
        usage = chunk.usage or usage
    if usage is None or usage.completion_tokens != max_tokens:
        raise RuntimeError(f"asked for {max_tokens} tokens, got {usage}")
    return time.perf_counter() - start


SERVING = {  # name -> `emollm serve` options
    "bf16": [],
    "bf16 as transformers builds it": ["--no-cpu-optimizations"],
    "bf16 + compiled decode": ["--compile-decode"],
    "int8": ["--quantization", "int8"],
    "int8 + compiled decode": ["--quantization", "int8", "--compile-decode"],
    "int4": ["--quantization", "int4"],
    "bf16 + compiled towers": ["--compile-towers"],
    "int4 + compiled towers": ["--quantization", "int4", "--compile-towers"],
}
DEFAULT_SERVING = ["bf16", "bf16 as transformers builds it", "int8", "int4"]  # compiled towers and decode step: slower here


def first_turn(server: Server, clip: Path) -> float:
    """After a warm-up request about another clip, time to first token of a first turn about `clip`."""
    chat(server.client, clip.with_name("warm-up.mp4"), 1)  # one-time set-up (codecs, detector, kernels)
    return chat(server.client, clip, 1)  # a new clip: decoding, faces, towers, prefill, one token


def decode_round(server: Server, clip: Path, args) -> dict:
    """A second turn's time to first token (the clip's features cached) and the decoding speed,
    between two measurements of the read bandwidth (GB/s; the better counts)."""
    before = read_gbs(args.threads, repeats=3)
    second = chat(server.client, clip, 1)
    longer = chat(server.client, clip, args.tokens)
    read = max(before, read_gbs(args.threads, repeats=3))
    return {"ttft_second": second, "decode": (args.tokens - 1) / (longer - second), "read": read}  # same prompt


def serve_all(model_dir: Path, clip: Path, args, env: dict) -> list[dict]:
    """Every way of serving in `args.serving`: first turns one server at a time, then `args.repeats`
    rounds of decoding across all of them (medians, and each round's ratio to the first)."""
    runs = []
    with contextlib.ExitStack() as stack:
        servers = {}
        for name in args.serving:
            log = args.workdir / f"serve-{name.replace(' ', '')}.log"
            started = time.perf_counter()
            servers[name] = stack.enter_context(
                Server(model_dir, clip.parent, args.threads, env, log, ["--served-model-name", "nano-2b", *SERVING[name]]))
            ready = time.perf_counter() - started
            runs.append({"format": name, "ready": ready, "ttft_first": first_turn(servers[name], clip), "rounds": []})
            print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
        for _ in range(args.repeats):
            for run in runs:
                run["rounds"].append(decode_round(servers[run["format"]], clip, args))
                print(json.dumps({run["format"]: run["rounds"][-1]}), file=sys.stderr, flush=True)
    baseline = runs[0]["rounds"]
    for run in runs:
        run["ttft_second"] = statistics.median(r["ttft_second"] for r in run["rounds"])
        run["decode"] = statistics.median(r["decode"] for r in run["rounds"])
        run["read"] = statistics.median(r["read"] for r in run["rounds"])
        run["x_baseline"] = statistics.median(r["decode"] / b["decode"] for r, b in zip(run["rounds"], baseline,
                                                                                         strict=True))
    return runs


# --- report --------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--preset", default="nano-2b", help="model preset (tiny: a quick check of this script)")
    parser.add_argument("--tokens", type=int, default=48, help="tokens per decode-speed request")
    parser.add_argument("--repeats", type=int, default=5, help="rounds of second turns and decoding across the servers "
                        "(medians count)")
    parser.add_argument("--serving", nargs="+", default=DEFAULT_SERVING, choices=list(SERVING),
                        help=f"ways to serve, each its own `emollm serve` (default: {' '.join(DEFAULT_SERVING)}; "
                             "the first is the baseline)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "emollm_cpu_latency",
                        help="the model and clip are kept here and reused")
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    env = os.environ | {"HF_HOME": str(standin_hf_home(args.workdir / "hf_home")), "HF_HUB_OFFLINE": "1"}
    os.environ["HF_HOME"] = env["HF_HOME"]

    machine = {"matmul": matmul_gflops(args.threads), "read": read_gbs(args.threads)}
    model_dir = build_model_dir(args.workdir, env, args.preset)
    clip = make_clip(args.workdir / "media" / "clip_10s_720p.mp4")
    make_clip(clip.with_name("warm-up.mp4"), seconds=2, width=320, height=240)
    # in a child process that then exits: its model's memory goes back to the system before four servers start
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as child:
        stages, facts = child.submit(stage_timings, model_dir, clip, args.threads).result()
    print(json.dumps({"machine": machine, "stages": stages, "facts": facts}), file=sys.stderr, flush=True)
    runs = serve_all(model_dir, clip, args, env)
    machine_after = {"matmul": matmul_gflops(args.threads), "read": read_gbs(args.threads)}
    report(args, machine, machine_after, stages, facts, runs)
    return 0


def report(args, machine, machine_after, stages, facts, runs) -> None:
    # the matmul rate: the better of the two measurements (a shared or throttled moment only lowers one,
    # and the better one makes the floor the harder to approach)
    rate = max(machine["matmul"], machine_after["matmul"]) * 1e9
    floor_flops = sum(row["flops"] for row in stages if row.get("floor"))
    prefill_flops = sum(row["flops"] for row in stages if row.get("prefill"))
    floor, prefill_floor = floor_flops / rate, prefill_flops / rate
    weights = facts["llm_bytes_bf16"]
    reads = [r["read"] for run in runs for r in run["rounds"]]
    load = os.getloadavg()
    print(f"\n### {args.preset} (random init) on CPU: {args.threads} threads, {os.cpu_count()} cores, "
          f"load average {load[0]:.1f} / {load[1]:.1f} at the end\n")
    print(tabulate([
        ["bf16 2048x2048 matmul", f"{machine['matmul']:.0f} GFLOP/s", f"{machine_after['matmul']:.0f} GFLOP/s", ""],
        ["read bandwidth (fp32 sum over 1 GiB)", f"{machine['read']:.1f} GB/s", f"{machine_after['read']:.1f} GB/s",
         f"{min(reads):.1f}-{max(reads):.1f} GB/s"],
    ], headers=["this machine", "at the start", "at the end", "around each decoding measurement"], tablefmt="github"))
    print()
    print(tabulate([[row["stage"], f"{row['seconds']:.2f}",
                     f"{row['flops'] / 1e9:.0f}" if "flops" in row else "",
                     f"{row['flops'] / row['seconds'] / 1e9:.0f}" if "flops" in row else "",
                     f"{row['flops'] / row['seconds'] / rate:.0%}" if "flops" in row else ""] for row in stages],
                   headers=["stage (bf16, as served)", "seconds", "GFLOP", "GFLOP/s", "of matmul rate"],
                   tablefmt="github"))
    print(f"\ntowers' attention: {facts['attention']}; prompt {facts['prompt_tokens']} tokens; "
          f"bf16 LLM weights {weights / 1e9:.2f} GB\n")
    rows = []
    for run in runs:
        x_roofline = statistics.median(r["decode"] / (r["read"] * 1e9 / weights) for r in run["rounds"])
        rows.append([run["format"], f"{run['ttft_first']:.2f}", f"{run['ttft_first'] / floor:.2f}",
                     f"{run['ttft_second']:.2f}", f"{run['ttft_second'] / prefill_floor:.2f}",
                     f"{run['decode']:.2f}", f"{run['read'] * 1e9 / weights:.2f}", f"{x_roofline:.2f}",
                     f"{run['x_baseline']:.2f}"])
    print(f"compute floor {floor:.2f} s ({floor_flops / 1e12:.2f} TFLOP of towers + prefill at the better matmul rate); "
          f"prefill alone {prefill_floor:.2f} s; bf16 roofline = read bandwidth around each decoding measurement / "
          f"{weights / 1e9:.2f} GB; decoding columns are medians over {args.repeats} rounds\n")
    print(tabulate(rows, headers=["served by `emollm serve` (openai client, streamed)", "TTFT 1st turn s",
                                  "x floor (goal <= 1.5)", "TTFT 2nd turn s (cached clip)", "x prefill floor (<= 1.5)",
                                  "decode tok/s", "bf16 roofline tok/s", "x bf16 roofline (>= 0.6)",
                                  f"x {runs[0]['format']} (same round)"],
                   tablefmt="github"))
    print("\nserver start-up (load + warm-up): " + ", ".join(f"{r['format']} {r['ready']:.0f} s" for r in runs))


if __name__ == "__main__":
    sys.exit(main())
