"""One greedy question about one clip gets the same answer wherever it is asked: through the API
the first time (the clip is decoded and encoded), the second time (its features come from the
feature cache) and on a server with the feature cache off — the same text and the same
log-probs — and through `emollm eval`, for a first and a second record about that clip.

Both servers load the session's tiny model directory as `emollm serve` does (the default dtype and
the CPU optimizations, emollm.cpu_inference) on real uvicorn servers on 127.0.0.1; eval loads the
same directory with its defaults. One torch thread everywhere, so float reductions run in the same order."""

from __future__ import annotations

import json

import httpx
import pytest

from data_pipeline.converters.base import make_record
from data_pipeline.schema import Labels, write_records
from data_pipeline.tasks import Task, user_prompt
from emollm.cli import run

MAX_TOKENS = 8


@pytest.fixture(scope="module")
def servers(tiny_model_dir, media_dir):
    from emollm.dtypes import resolve_dtype
    from serve.api import APISettings, create_app
    from serve.engine import Engine, EngineLimits
    from serve.media_fetch import MediaPolicy
    from serve.server import start_in_thread

    running, engines = {}, []
    for name, cache_bytes in (("cached", 64 * 2**20), ("uncached", 0)):
        engine = Engine.from_pretrained(tiny_model_dir, EngineLimits(feature_cache_bytes=cache_bytes, threads=1), name,
                                        dtype=resolve_dtype("auto"))
        settings = APISettings(served_model_names=[name], media=MediaPolicy(allowed_local_media_path=media_dir))
        running[name] = start_in_thread(create_app(engine, settings))
        engines.append(engine)
    yield {name: server.url for name, server in running.items()}
    for server in running.values():
        server.stop()
    for engine in engines:
        engine.close()


def ask(url: str, model: str, clip) -> tuple[str, list]:
    body = {"model": model, "temperature": 0, "max_tokens": MAX_TOKENS, "logprobs": True, "top_logprobs": 3,
            "messages": [{"role": "user", "content": [
                {"type": "video_url", "video_url": {"url": f"file://{clip}"}},
                {"type": "text", "text": user_prompt(Task.MER, None)}]}]}
    response = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=300)
    assert response.status_code == 200, response.text
    choice = response.json()["choices"][0]
    return choice["message"]["content"], choice["logprobs"]["content"]


def test_same_answer_first_second_and_without_the_cache(servers, media_dir, tiny_model_dir, tmp_path, capsys):
    clip = media_dir / "clip.mp4"
    first = ask(servers["cached"], "cached", clip)
    second = ask(servers["cached"], "cached", clip)
    uncached = ask(servers["uncached"], "uncached", clip)
    assert first[1], "no tokens were generated"
    assert first == second == uncached

    # `emollm eval`: the same question about the same clip as two records (a first time and a cached one)
    records = tmp_path / "records.jsonl"
    write_records(records, [make_record(name, "clips", "test", Task.MER, video=clip,
                                                labels=Labels(emotion="happy")) for name in ("a", "b")])
    out = tmp_path / "eval"
    assert run(["eval", "--model", str(tiny_model_dir), "--data", str(records), "--out", str(out),
                "--batch-size", "1", "--max-new-tokens", f"MER={MAX_TOKENS}", "--threads", "1"]) == 0
    capsys.readouterr()
    rows = {row["id"]: row for row in map(json.loads, (out / "predictions.jsonl").read_text().splitlines())}
    assert rows["a"]["error"] is None
    assert rows["a"]["prediction"] == rows["b"]["prediction"] == first[0].strip()
