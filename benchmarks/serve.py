"""Serving benchmark on a random tiny EmoLLM (made in a temp dir), in one run, printed as Markdown:

* decode speed of raw `model.generate` vs the same prompt through the HTTP API (`openai` client,
  non-streamed and streamed), the clip's features already cached in both, both run off the main
  thread with the same torch threads (as the engine runs the model);
* time to first token of the first turn about a clip (decode + encode) and of the second (cache hit);
* throughput with 1, 4 and 16 concurrent clients (each a thread with its own `openai` client
  sending video turns back to back), with error counts.

Run: `.venv/bin/python benchmarks/serve.py` (about 1-2 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

# Run as a script, this folder comes first on sys.path, and this file's name (and its neighbours')
# would shadow the `serve` and `data_pipeline` packages.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402

QUESTION = "How does the speaker feel?"


def make_clip(path: Path, seed: int) -> Path:
    from data_pipeline.writer import write_video

    rng = np.random.default_rng(seed)
    frames = np.zeros((16, 120, 160, 3), dtype=np.uint8)
    for t in range(16):
        frames[t, 20 + t:80 + t, 40:110] = rng.integers(60, 230, 3)
    voice = (0.3 * np.sin(2 * np.pi * (180 + 40 * seed) * np.arange(32000) / 16000)).astype(np.float32)
    write_video(path, frames, fps=8, audio=voice)
    return path


def video_messages(clip: Path) -> list[dict]:
    url = "data:video/mp4;base64," + base64.b64encode(clip.read_bytes()).decode()
    return [{"role": "user", "content": [{"type": "video_url", "video_url": {"url": url}},
                                         {"type": "text", "text": QUESTION}]}]


def in_thread(function, *args):
    """Run like the engine runs the model: in a worker thread with the same torch threads."""
    result = {}

    def target():
        torch.set_num_threads(engine_threads())
        result["value"] = function(*args)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    return result["value"]


def engine_threads() -> int:
    return os.cpu_count() or 1


def raw_generate_seconds(engine, clip: Path, tokens: int) -> float:
    from data_pipeline.clip import Clip

    model, core = engine.model, engine.core
    cached, _ = core.encode(Clip(video=str(clip)))
    conversation = [[{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": QUESTION}]}]]
    batch = core.batch(conversation, [cached])
    start = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(**batch, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False)
    assert out.shape[1] == tokens
    return time.perf_counter() - start


def api_seconds(client, clip: Path, tokens: int, stream: bool) -> float:
    messages = video_messages(clip)
    start = time.perf_counter()
    if stream:  # log-probs ride on every token, so each token is a chunk even when its text is held back
        count = sum(1 for c in client.chat.completions.create(
            model="tiny", messages=messages, max_tokens=tokens, temperature=0, logprobs=True, stream=True,
            extra_body={"ignore_eos": True}) if c.choices and c.choices[0].logprobs)
    else:
        count = client.chat.completions.create(model="tiny", messages=messages, max_tokens=tokens, temperature=0,
                                               extra_body={"ignore_eos": True}).usage.completion_tokens
    assert count == tokens
    return time.perf_counter() - start


def decode_speeds(engine, client, clip: Path, tokens: int, repeats: int) -> dict[str, float]:
    """Tokens/s, median over interleaved repeats (the three ways take turns, so load on a shared
    machine hits them alike); one warm-up round first."""
    seconds: dict[str, list[float]] = {"raw": [], "api": [], "stream": []}
    for round_ in range(repeats + 1):
        timings = {"raw": in_thread(raw_generate_seconds, engine, clip, tokens),
                   "api": api_seconds(client, clip, tokens, stream=False),
                   "stream": api_seconds(client, clip, tokens, stream=True)}
        if round_:
            for name, value in timings.items():
                seconds[name].append(value)
    return {name: tokens / statistics.median(values) for name, values in seconds.items()}


def time_to_first_token(client, clip: Path) -> float:
    """Seconds until the first chunk that carries a generated token (log-probs ride on every token)."""
    start = time.perf_counter()
    stream = client.chat.completions.create(model="tiny", messages=video_messages(clip), max_tokens=4, logprobs=True,
                                            stream=True)
    for chunk in stream:
        if chunk.choices and chunk.choices[0].logprobs:
            elapsed = time.perf_counter() - start
            stream.close()
            return elapsed
    raise RuntimeError("no token came back")


def throughput(url: str, clip: Path, clients: int, requests_each: int, tokens: int) -> dict:
    import openai

    messages = video_messages(clip)
    done, errors, generated, latencies = [0], [0], [0], []
    lock = threading.Lock()
    barrier = threading.Barrier(clients)

    def run() -> None:
        client = openai.OpenAI(base_url=url, api_key="bench", max_retries=0, timeout=300)
        barrier.wait()
        for _ in range(requests_each):
            start = time.perf_counter()
            try:
                reply = client.chat.completions.create(model="tiny", messages=messages, max_tokens=tokens,
                                                       temperature=0, extra_body={"ignore_eos": True})
                with lock:
                    done[0] += 1
                    generated[0] += reply.usage.completion_tokens
                    latencies.append(time.perf_counter() - start)
            except openai.APIError:
                with lock:
                    errors[0] += 1

    threads = [threading.Thread(target=run) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    return {"clients": clients, "requests": done[0], "errors": errors[0], "wall": wall,
            "req_s": done[0] / wall, "tok_s": generated[0] / wall,
            "p50": statistics.median(latencies) if latencies else float("nan")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=64, help="tokens per request in the speed rows")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--requests-per-client", type=int, default=4)
    args = parser.parse_args()

    import openai

    from emollm.presets import init_model_dir
    from serve.api import APISettings, create_app
    from serve.engine import Engine, EngineLimits
    from serve.server import start_in_thread

    work = Path(tempfile.mkdtemp(prefix="emollm-bench-serve-"))
    model_dir = init_model_dir("tiny", work / "model")
    engine = Engine.from_pretrained(model_dir, EngineLimits(max_batch_size=16, max_concurrent_requests=64), "tiny")
    server = start_in_thread(create_app(engine, APISettings(served_model_names=["tiny"])))
    url = f"{server.url}/v1"
    client = openai.OpenAI(base_url=url, api_key="bench", max_retries=0, timeout=300)
    warm, fresh = make_clip(work / "warm.mp4", 0), make_clip(work / "fresh.mp4", 1)
    try:
        speeds = decode_speeds(engine, client, warm, args.tokens, args.repeats)
        first = time_to_first_token(client, fresh)
        second = time_to_first_token(client, fresh)
        loads = [throughput(url, warm, n, args.requests_per_client, 32) for n in (1, 4, 16)]
    finally:
        server.stop()
        engine.close()

    print(f"\n### Serving benchmark: tiny EmoLLM (random init), CPU, {os.cpu_count()} cores, "
          f"torch threads {torch.get_num_threads()}\n")
    from data_pipeline.tables import markdown_table

    names = (("raw", "raw `model.generate`"), ("api", "API, non-streamed"), ("stream", "API, streamed (SSE)"))
    print(markdown_table([f"decode speed, {args.tokens} new tokens, video prompt (clip cached)", "tokens/s", "vs raw"],
                         [[name, f"{speeds[key]:.1f}", f"{speeds[key] / speeds['raw']:.2f}x"] for key, name in names]))
    print()
    print(markdown_table(["time to first token (streamed, same clip)", "seconds"],
                         [["first turn (decode + face step + encode)", f"{first:.3f}"],
                          ["second turn (feature cache hit)", f"{second:.3f}"]]))
    print()
    print(markdown_table(
        [f"concurrent clients (video turns, 32 tokens each, {args.requests_per_client} per client)", "requests",
         "errors", "wall s", "requests/s", "generated tokens/s", "p50 latency s"],
        [[r["clients"], r["requests"], r["errors"], f"{r['wall']:.2f}", f"{r['req_s']:.2f}", f"{r['tok_s']:.1f}",
          f"{r['p50']:.2f}"] for r in loads], ["right"] * 7))


if __name__ == "__main__":
    main()
