"""`emollm demo` (what `make demo` runs): the whole product on the built-in synthetic set.

1. generate a synthetic training set (seed 0) and a held-out evaluation set (seed 1, never trained on);
2. train the tiny preset through the whole P2E curriculum (emollm/configs/curriculum/p2e-tiny.yaml);
3. evaluate it on the held-out set, with the subtitle ablation, and print the tables;
4. serve the OpenAI-style API and the Gradio chat on 127.0.0.1, with ready-to-paste examples.

Each step is another subcommand, run through `emollm.cli.run`, so `train` and `serve` stay apart
and this module imports neither. Directories are named after the sizes asked for, and a step
whose output is complete is skipped: a rerun reuses what is built and goes on where it stopped.
"""

from __future__ import annotations

import json
import shlex
import threading
import time
import urllib.request
from pathlib import Path

from data_pipeline.errors import UserFacingError

TRAIN_SEED, EVAL_SEED = 0, 1  # the held-out set is drawn with a seed the demo never trains on
DEFAULT_CLIPS, DEFAULT_EVAL_CLIPS = 560, 140
SERVED_NAME = "emollm-tiny-demo"
ABLATE_TASKS = ("MER", "MSA", "MIR")  # the subtitle ablation re-asks the short-answer tasks


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="synthetic data -> P2E training -> evaluation -> API + chat, on this machine",
        description="Generate the synthetic set, train the tiny preset through the P2E curriculum, evaluate it "
                    "on held-out clips (tables printed), then serve the API and the chat on 127.0.0.1. "
                    "Reruns reuse what is already built.")
    parser.add_argument("--out", default="runs/demo", help="working directory (default: runs/demo)")
    parser.add_argument("--no-serve", action="store_true", help="stop after the evaluation tables")
    parser.add_argument("--clips", type=int, default=DEFAULT_CLIPS, help=f"training clips (default {DEFAULT_CLIPS})")
    parser.add_argument("--eval-clips", type=int, default=DEFAULT_EVAL_CLIPS,
                        help=f"held-out clips, 6 records each (default {DEFAULT_EVAL_CLIPS})")
    parser.add_argument("--steps", type=int, help="cap every training phase at N steps (default: the curriculum's)")
    parser.add_argument("--batch-size", type=int, default=16, help="evaluation batch size (default 16)")
    parser.add_argument("--port", type=int, default=8000, help="port of the API and chat (default 8000)")
    parser.set_defaults(func=run_demo)


class Demo:
    def __init__(self, args):
        for name in ("clips", "eval_clips"):
            if getattr(args, name) < 1:
                raise UserFacingError(f"--{name.replace('_', '-')} must be at least 1")
        if args.steps is not None and args.steps < 1:
            raise UserFacingError("--steps must be at least 1")
        self.args = args
        self.out = Path(args.out).resolve()
        self.train_data = self.out / "data" / f"synthetic-n{args.clips}-seed{TRAIN_SEED}"
        self.eval_data = self.out / "data" / f"synthetic-n{args.eval_clips}-seed{EVAL_SEED}"
        self.train_dir = self.out / (f"train-n{args.clips}" + (f"-steps{args.steps}" if args.steps else ""))
        self.model_dir = self.train_dir / "final"
        self.eval_dir = self.train_dir / f"eval-n{args.eval_clips}-seed{EVAL_SEED}"
        self.started = time.perf_counter()

    def step(self, number: int, title: str) -> None:
        elapsed = time.perf_counter() - self.started
        print(f"\n==> [{number}/5] {title}  (at {elapsed / 60:.1f} min)", flush=True)

    def data(self) -> None:
        self.step(1, f"synthetic training set: {self.args.clips} clips, seed {TRAIN_SEED}")
        call(["data", "synth", "--out", str(self.train_data), "--n", str(self.args.clips), "--seed", str(TRAIN_SEED)])
        self.step(2, f"held-out evaluation set: {self.args.eval_clips} clips, seed {EVAL_SEED} (never trained on)")
        call(["data", "synth", "--out", str(self.eval_data), "--n", str(self.args.eval_clips), "--seed", str(EVAL_SEED)])

    def train(self) -> None:
        from emollm.packaged import find_config

        curriculum = find_config("curriculum", "p2e-tiny")
        self.step(3, f"training the tiny preset through the P2E curriculum ({curriculum.name}) -> {self.train_dir}")
        if (self.model_dir / "training.json").is_file():
            print(f"already trained: {self.model_dir}")
            return
        records = self.train_data / "records.jsonl"
        command = ["train", "--config", str(curriculum), "--out", str(self.train_dir),
                   f"datasets.synthetic.records={records}", f"datasets.synthetic.generate.n={self.args.clips}",
                   f"datasets.synthetic.generate.seed={TRAIN_SEED}"]
        if self.args.steps:
            command.append(f"steps={self.args.steps}")
        if self.train_dir.exists():
            command.append("--resume")
        call(command)

    def evaluate(self) -> dict:
        self.step(4, f"evaluating on the held-out set ({6 * self.args.eval_clips} records) -> {self.eval_dir}")
        call(["eval", "--model", str(self.model_dir), "--data", str(self.eval_data / "records.jsonl"),
              "--out", str(self.eval_dir), "--split", "all", "--ablate", "subtitle",
              "--ablate-tasks", *ABLATE_TASKS, "--batch-size", str(self.args.batch_size), "--name", SERVED_NAME,
              "--overwrite-if-changed"])
        metrics = json.loads((self.eval_dir / "metrics.json").read_text())
        self._update_card(metrics)
        return metrics

    def _update_card(self, metrics: dict) -> None:
        from emollm.model_card import CARD, METRICS_START, update_model_card_metrics, write_model_card

        card = self.model_dir / CARD
        if card.exists() and METRICS_START in card.read_text(encoding="utf-8"):
            update_model_card_metrics(self.model_dir, metrics)
        else:
            write_model_card(self.model_dir, base="tiny preset (random init)", training="P2E curriculum p2e-tiny",
                             data=[f"synthetic set, {self.args.clips} clips, seed {TRAIN_SEED}"], metrics=metrics)

    def serve(self) -> int:
        self.step(5, f"serving {SERVED_NAME}: OpenAI-style API and Gradio chat on 127.0.0.1:{self.args.port}")
        example = _example_clip(self.eval_data)
        banner = usage_banner("127.0.0.1", self.args.port, example)
        threading.Thread(target=_announce_when_up, args=(self.args.port, banner), daemon=True).start()
        return call(["serve", "--model", str(self.model_dir), "--host", "127.0.0.1", "--port", str(self.args.port),
                     "--served-model-name", SERVED_NAME, "--allowed-local-media-path", str(self.out / "data")])


def call(argv: list[str]) -> int:
    from emollm.cli import run

    print("$ emollm " + shlex.join(argv), flush=True)
    code = run(argv)
    if code:
        raise UserFacingError(f"`emollm {argv[0]}` failed with exit code {code}")
    return code


def _example_clip(data_dir: Path) -> Path:
    clips = sorted((data_dir / "clips").glob("*.mp4"))
    return clips[0] if clips else data_dir / "clips" / "synth-00000.mp4"


def usage_banner(host: str, port: int, clip: Path) -> str:
    base = f"http://{host}:{port}"
    body = json.dumps({"model": SERVED_NAME, "max_tokens": 32, "messages": [{"role": "user", "content": [
        {"type": "video_url", "video_url": {"url": clip.as_uri()}},
        {"type": "text", "text": "What is the sentiment of the speaker? Answer with one word from: "
                                 "negative, neutral, positive."}]}]})
    return f"""
EmoLLM demo is up ({SERVED_NAME}, a toy model trained on synthetic clips):
  API (OpenAI-style):  {base}/v1
  Chat (Gradio):       {base}/ui

curl:
  curl {base}/v1/chat/completions -H "Content-Type: application/json" -d {shlex.quote(body)}

Python (pip install openai):
  from openai import OpenAI
  client = OpenAI(base_url="{base}/v1", api_key="EMPTY")
  reply = client.chat.completions.create(model="{SERVED_NAME}", max_tokens=200, messages=[{{"role": "user", "content": [
      {{"type": "video_url", "video_url": {{"url": "{clip.as_uri()}"}}}},
      {{"type": "text", "text": "Respond to the speaker with empathy. Think through the chain of empathy first."}}]}}])
  print(reply.choices[0].message.reasoning_content)  # the chain of empathy (may be None)
  print(reply.choices[0].message.content)

Press Ctrl+C to stop.
"""


def _announce_when_up(port: int, banner: str, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                if response.status == 200:
                    print(banner, flush=True)
                    return
        except OSError:
            pass
        time.sleep(0.5)


def run_demo(args) -> int:
    demo = Demo(args)
    demo.data()
    demo.train()
    demo.evaluate()
    total = (time.perf_counter() - demo.started) / 60
    print(f"\nBuilt in {total:.1f} min. Model: {demo.model_dir}\nReport: {demo.eval_dir / 'report.md'}")
    if args.no_serve:
        print(f"Serve it later with: emollm serve --model {demo.model_dir}")
        return 0
    return demo.serve()
