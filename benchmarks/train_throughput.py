"""Training throughput and memory, measured through `emollm train` itself (one subprocess per
setup, so peak memory is the setup's own): samples/s and peak memory per phase for the tiny
preset — feature cache vs decoding every step, LoRA vs QLoRA, one process vs two with ZeRO-2.

    python benchmarks/train_throughput.py                # tiny preset setups (a few minutes)
    python benchmarks/train_throughput.py --nano         # + one QLoRA step of nano-2b (random init, bf16, CPU)
    python benchmarks/train_throughput.py --p2e-tiny     # + the whole tiny curriculum from scratch:
                                                         #   wall time and held-out MER accuracy

Prints Markdown tables. Samples/s is the Trainer's (training loop only); "phase time" adds
model loading, the feature-cache warm-up and the export of the phase's model.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TINY = REPO / "emollm" / "configs" / "curriculum" / "p2e-tiny.yaml"
ENV = os.environ | {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}

# name, phase, processes, extra overrides
TINY_SETUPS: list[tuple[str, str, int, list[str]]] = [
    ("MER, feature cache", "1b", 1, []),
    ("MER, decoding every step", "1b", 1, ["phases.1b.feature_cache=false"]),
    ("multitask, LoRA", "3", 1, ["phases.3.train=[lora, adapter.*, fusion]"]),
    ("multitask, QLoRA (4-bit LLM)", "3", 1, ["phases.3.train=[lora, adapter.*, fusion]", "phases.3.lora.quantize=4bit"]),
    ("multitask, LoRA, 2 processes ZeRO-2, 4 each", "3", 2,
     ["phases.3.train=[lora, adapter.*, fusion]", "deepspeed=zero2", "phases.3.batch_size=4"]),
]


def emollm_train(args: list[str], processes: int = 1, log: Path | None = None) -> float:
    command = [str(BIN / "emollm"), "train", *args]
    if processes > 1:
        from train.distributed import free_port

        # a real port: with --master_port 0 DeepSpeed's env:// rendezvous waits forever
        command = [str(BIN / "torchrun"), "--nproc_per_node", str(processes), "--master_port", str(free_port()),
                   str(BIN / "emollm"), "train", *args]
    started = time.perf_counter()
    with open(log or os.devnull, "w") as handle:
        result = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, env=ENV)
    if result.returncode:
        raise SystemExit(f"failed ({result.returncode}): {' '.join(command)}\nsee {log}")
    return time.perf_counter() - started


def prepare_tiny(work: Path) -> list[str]:
    """One tiny model and one synthetic set shared by every setup (and a warm feature cache)."""
    from data_pipeline.synthetic import generate_synthetic
    from emollm.presets import init_model_dir

    model = init_model_dir("tiny", work / "model")
    records = generate_synthetic(work / "synthetic", n=70, seed=0, progress=False)
    return [f"model.dir={model}", "model.preset=null", f"datasets.synthetic.records={records}",
            "datasets.synthetic.generate=null", f"feature_cache_dir={work / 'cache'}"]


def tiny_rows(work: Path, steps: int) -> list[dict]:
    shared = prepare_tiny(work)
    rows = []
    for index, (name, phase, processes, extra) in enumerate(TINY_SETUPS):
        out = work / f"run{index}"
        overrides = [*shared, f"steps={steps}", f"phases.{phase}.init=base", f"phases.{phase}.batch_size=8",
                     f"phases.{phase}.save_steps={steps}", *extra]
        seconds = emollm_train(["--config", str(TINY), "--out", str(out), "--phase", phase, *overrides],
                               processes, log=work / f"run{index}.log")
        metrics = json.loads((out / phase / "training.json").read_text())["metrics"]
        rows.append({"setup": name, "phase": phase, "processes": processes, "steps": metrics["steps"],
                     "samples/s": metrics["samples_per_second"], "peak MB": metrics["peak_memory_mb"],
                     "phase time (s)": metrics["seconds"], "wall (s)": round(seconds, 1)})
    return rows


def nano_rows(work: Path, steps: int) -> list[dict]:
    """nano-2b at random init in bf16 (the tiny tokenizer stands in for Qwen's, which can't be
    downloaded here), one QLoRA phase-3 step on CPU from cached tower features."""
    import torch

    from emollm.modeling_emollm import EmoLLMForConditionalGeneration
    from emollm.presets import build_config, build_processor, load_preset

    model_dir = work / "nano"
    if not (model_dir / "config.json").exists():
        preset = load_preset("nano-2b")
        tiny_tokenizer = load_tokenizer_of("tiny")
        config = build_config(preset, tiny_tokenizer)
        torch.set_default_dtype(torch.bfloat16)
        model = EmoLLMForConditionalGeneration(config)
        torch.set_default_dtype(torch.float32)
        model.save_pretrained(model_dir)
        build_processor(preset, config, tiny_tokenizer).save_pretrained(model_dir)
        del model
    from data_pipeline.synthetic import generate_synthetic

    records = generate_synthetic(work / "synthetic7", n=7, seed=0, progress=False)
    out = work / "nano-run"
    overrides = [f"model.dir={model_dir}", "model.preset=null", f"datasets.synthetic.records={records}",
                 "datasets.synthetic.generate=null", f"feature_cache_dir={work / 'nano-cache'}", f"steps={steps}",
                 "phases.3.init=base", "phases.3.lora.quantize=4bit", "phases.3.lora.r=16", "phases.3.lora.alpha=32",
                 "phases.3.train=[lora, adapter.*, fusion]", "phases.3.batch_size=1", "phases.3.precision=bf16",
                 "phases.3.gradient_checkpointing=true", "phases.3.logging_steps=1", f"phases.3.save_steps={steps}",
                 "torch_threads=null"]
    seconds = emollm_train(["--config", str(TINY), "--out", str(out), "--phase", "3", *overrides],
                           log=work / "nano.log")
    info = json.loads((out / "3" / "training.json").read_text())
    metrics = info["metrics"]
    trainable = sum(r["trainable"] for r in info["trainable"])
    return [{"setup": "nano-2b QLoRA (r 16), bf16, batch 1, grad. checkpointing", "steps": metrics["steps"],
             "s/step": round(metrics["train_seconds"] / metrics["steps"], 1), "peak MB": metrics["peak_memory_mb"],
             "trainable (M)": round(trainable / 1e6, 1), "phase time (s)": metrics["seconds"],
             "wall (s)": round(seconds, 1)}]


def load_tokenizer_of(preset_name: str):
    from emollm.presets import load_preset, load_tokenizer

    return load_tokenizer(load_preset(preset_name))


def p2e_tiny_rows(work: Path, heldout_clips: int) -> list[dict]:
    """The shipped tiny curriculum from a fresh directory (synthetic set generated too), then
    greedy MER answers on a held-out synthetic set drawn with another seed."""
    data = work / "p2e-data" / "records.jsonl"
    seconds = emollm_train(["--config", str(TINY), "--out", str(work / "p2e-run"), f"datasets.synthetic.records={data}"],
                           log=work / "p2e.log")
    from data_pipeline.synthetic import generate_synthetic

    heldout = generate_synthetic(work / "heldout", n=heldout_clips, seed=1, progress=False)
    accuracy, answered = mer_accuracy(work / "p2e-run" / "final", heldout, work / "heldout-cache")
    phases = {p: json.loads((work / "p2e-run" / p / "training.json").read_text())["metrics"]
              for p in ("0", "1a", "1b", "2", "3")}
    row = {"run": "p2e-tiny, fresh (data generated)", "wall (s)": round(seconds, 1)}
    row |= {f"phase {p} (s)": m["seconds"] for p, m in phases.items()}
    row |= {"held-out MER clips": answered, "MER accuracy": round(accuracy, 3)}
    return [row]


def mer_accuracy(model_dir: Path, records_path: Path, cache_dir: Path, batch_size: int = 32) -> tuple[float, int]:
    """Greedy `model.generate` on every MER record; the first word of the answer is the label."""

    from data_pipeline.schema import read_records
    from emollm.feature_cache import FeatureCache
    from emollm.inference import InferenceCore
    from emollm.records import record_inputs

    core = InferenceCore.from_pretrained(model_dir, cache=FeatureCache(cache_dir))
    records = [r for r in read_records(records_path) if r.task == "MER"]
    correct = 0
    for start in range(0, len(records), batch_size):
        chunk = records[start:start + batch_size]
        inputs = [record_inputs(r, with_answer=False) for r in chunk]
        clips = [core.encode(i.clip)[0] for i in inputs]
        batch = core.batch([i.messages for i in inputs], clips)
        answers = core.processor.batch_decode(core.generate(batch, max_new_tokens=4, do_sample=False),
                                              skip_special_tokens=True)
        for record, answer in zip(chunk, answers, strict=True):
            words = answer.strip().split()
            correct += bool(words) and words[0].strip(".,;:").lower() == record.labels.emotion
    return correct / len(records), len(records)


def table(rows: list[dict]) -> str:
    from data_pipeline.tables import markdown_table

    columns = list(rows[0])
    return markdown_table(columns, [[row[c] for c in columns] for row in rows], ["left"] * len(columns))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20, help="steps per tiny setup (default 20)")
    parser.add_argument("--nano", action="store_true", help="also one QLoRA step of nano-2b on CPU (minutes, ~10 GB)")
    parser.add_argument("--nano-steps", type=int, default=2)
    parser.add_argument("--p2e-tiny", action="store_true", help="also the whole tiny curriculum + held-out MER")
    parser.add_argument("--heldout-clips", type=int, default=140)
    parser.add_argument("--only", choices=["nano", "p2e-tiny"], help="skip the tiny setups")
    parser.add_argument("--work", type=Path, help="working directory (default: a temporary one)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="emollm-train-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"working in {work} ({os.cpu_count()} CPUs)", flush=True)
    if args.only is None:
        print("\n## Tiny preset, one phase per setup\n\n" + table(tiny_rows(work, args.steps)), flush=True)
    if args.nano or args.only == "nano":
        print("\n## nano-2b (random init), QLoRA on CPU\n\n" + table(nano_rows(work, args.nano_steps)), flush=True)
    if args.p2e_tiny or args.only == "p2e-tiny":
        print("\n## The tiny curriculum, end to end\n\n" + table(p2e_tiny_rows(work, args.heldout_clips)), flush=True)


if __name__ == "__main__":
    main()
