"""Which project modules two walks pass through (docs/architecture.md lists them):

* `api`: one chat request with a video, sent over HTTP to a server on the tiny model, until its
  answer comes back (route -> ... -> logits);
* `train`: `emollm train` on the tiny curriculum, one phase capped at 2 steps, to its checkpoint.

A profile hook on every thread records the module of each project function called while the
walk runs, in first-call order. Usage: `python scripts/trace_walks.py api|train`
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
PACKAGES = ("data_pipeline", "emollm", "train", "serve")
seen: dict[str, None] = {}
recording = False


def _hook(frame, event, arg):
    if not recording or event != "call":
        return
    name = frame.f_globals.get("__name__", "")
    if name in seen or name.split(".")[0] not in PACKAGES:
        return
    # calls the walk makes; module bodies run by (lazy) imports, and what they call, are not steps
    caller = frame
    while caller is not None:
        if caller.f_code.co_name == "<module>" and caller.f_globals.get("__name__") != "__main__":
            return
        caller = caller.f_back
    seen.setdefault(name)


def _start() -> None:
    global recording
    seen.clear()
    recording = True


def api_walk(root: Path) -> None:
    import httpx
    import numpy as np

    from data_pipeline.writer import write_video
    from emollm.presets import init_model_dir

    model_dir = init_model_dir("tiny", root / "model")
    frames = np.zeros((8, 64, 64, 3), dtype=np.uint8)
    tone = (0.3 * np.sin(np.arange(16000) / 10)).astype(np.float32)
    write_video(root / "clip.mp4", frames, fps=8, audio=tone)
    from serve.api import APISettings, create_app
    from serve.engine import Engine
    from serve.media_fetch import MediaPolicy
    from serve.server import start_in_thread

    engine = Engine.from_pretrained(model_dir)
    settings = APISettings(served_model_names=["tiny"], media=MediaPolicy(allowed_local_media_path=root))
    server = start_in_thread(create_app(engine, settings))
    body = {"model": "tiny", "max_tokens": 4, "temperature": 0, "messages": [{"role": "user", "content": [
        {"type": "video_url", "video_url": {"url": f"file://{root / 'clip.mp4'}"}},
        {"type": "text", "text": "How does this person feel?"}]}]}
    _start()
    response = httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=120)
    response.raise_for_status()
    global recording
    recording = False
    server.stop()
    engine.close()


def train_walk(root: Path) -> None:
    from data_pipeline.synthetic import generate_synthetic
    from emollm.cli import run
    from emollm.presets import REPO_ROOT, init_model_dir

    model_dir = init_model_dir("tiny", root / "model")
    records = generate_synthetic(root / "synthetic", n=7, seed=0)
    curriculum = REPO_ROOT / "configs" / "curriculum" / "p2e-tiny.yaml"
    if not curriculum.exists():
        curriculum = REPO_ROOT / "emollm" / "configs" / "curriculum" / "p2e-tiny.yaml"
    _start()
    assert run(["train", "--config", str(curriculum), "--out", str(root / "run"), "--phase", "0",
                f"model.dir={model_dir}", "model.preset=null", f"datasets.synthetic.records={records}",
                "datasets.synthetic.generate=null", "steps=2", "phases.0.batch_size=2"]) == 0


def main() -> None:
    walk = sys.argv[1]
    sys.setprofile(_hook)
    threading.setprofile(_hook)
    with tempfile.TemporaryDirectory() as tmp:
        {"api": api_walk, "train": train_walk}[walk](Path(tmp))
    sys.setprofile(None)
    modules = list(seen)
    print(f"{walk}: {len(modules)} project modules")
    for name in modules:
        print(f"  {name}")


if __name__ == "__main__":
    main()
