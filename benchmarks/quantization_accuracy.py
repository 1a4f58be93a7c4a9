"""Held-out accuracy of a trained model served in bf16 and with each `--quantization` format, through
the same evaluation as `emollm eval` (greedy, seed 0), with the decode speed of one fixed prompt.
Every format runs as `emollm serve` runs it (emollm.cpu_inference); the first column is bf16 as
transformers builds it (`--no-cpu-optimizations`), the reference of every difference.

    .venv/bin/python benchmarks/quantization_accuracy.py --model runs/demo/train-n560/final \\
        --data runs/demo/data/synthetic-n140-seed1/records.jsonl [more records.jsonl ...] [--out DIR] [--limit N]

`emollm demo --no-serve` makes both (the tiny demo model and its held-out set); `emollm data synth
--n 140 --seed S` makes more held-out sets. Prints one Markdown table: each task's headline metric
per format over all the sets (records pooled, so one flipped answer in 420 moves it 0.24 points),
and the difference in points from bf16 as transformers builds it; fp32 (the same weights
unquantized) shows how far a change of arithmetic alone moves them.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path[:] = [str(Path(__file__).resolve().parents[1])] + [
    p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from tabulate import tabulate  # noqa: E402

from emollm.quantization import QUANTIZATION_CHOICES  # noqa: E402

PLAIN = "bf16 (transformers)"  # as transformers builds it: the reference of every difference


def decode_speed(model, tokens: int = 64) -> float:
    """Tokens/s of greedy decoding of the LLM alone after a 100-token prompt."""
    ids = torch.randint(0, model.config.text_config.vocab_size - 1, (1, 100))
    settings = {"do_sample": False, "pad_token_id": 0}
    with torch.inference_mode():
        model.language_model.generate(input_ids=ids, max_new_tokens=1, min_new_tokens=1, **settings)
        start = time.perf_counter()
        model.language_model.generate(input_ids=ids, max_new_tokens=1, min_new_tokens=1, **settings)
        prefill = time.perf_counter() - start
        start = time.perf_counter()
        model.language_model.generate(input_ids=ids, max_new_tokens=tokens, min_new_tokens=tokens, **settings)
    return (tokens - 1) / (time.perf_counter() - start - prefill)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="a trained model directory")
    parser.add_argument("--data", type=Path, nargs="+", required=True, help="held-out records.jsonl (one or more)")
    parser.add_argument("--out", type=Path, default=Path(tempfile.mkdtemp(prefix="emollm-quant-acc-")))
    parser.add_argument("--quantization", nargs="+", default=["int8", "int4"])
    parser.add_argument("--no-fp32", dest="fp32", action="store_false",
                        help="skip the fp32 column: the same weights unquantized in fp32, which shows how far a "
                             "change of arithmetic alone moves these metrics (greedy answers flip near ties)")
    parser.add_argument("--limit", type=int, help="records per task (default: all)")
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args(argv)

    from emollm.cpu_inference import optimize_for_cpu
    from emollm.evaluation.evaluate import EvalPlan, evaluate
    from emollm.inference import load_model_dir
    from emollm.quantization import quantize_llm

    base, processor = load_model_dir(args.model, dtype=torch.bfloat16)
    plan = EvalPlan(split="all", batch_size=args.batch_size, limit=args.limit)
    results, speeds = {}, {}
    for name in [PLAIN, "bf16", *(["fp32"] if args.fp32 else []), *args.quantization]:
        model = base if name == PLAIN else copy.deepcopy(base)
        if name == "fp32":
            model.float()
        if name != PLAIN:
            quantize_llm(model, name if name in QUANTIZATION_CHOICES else None)
            optimize_for_cpu(model)
        pooled: dict[tuple, list[tuple[float, int]]] = {}
        for index, data in enumerate(args.data):
            report = evaluate((model, processor), data, args.out / name / str(index), plan, progress=False,
                              overwrite=True)
            for r in report.metrics["summary"]:
                if r["value"] is not None:
                    pooled.setdefault((r["task"], r["dataset"], r["metric"]), []).append((r["value"], r["n"]))
        # every metric here is a mean over records (accuracy, set F, label hit): weight each set by its size
        results[name] = {key: sum(v * n for v, n in parts) / sum(n for _, n in parts) for key, parts in pooled.items()}
        if name == PLAIN:
            counts = {key: sum(n for _, n in parts) for key, parts in pooled.items()}  # records per row
        speeds[name] = decode_speed(model)
    names = list(results)
    rows = []
    for key, reference in results[PLAIN].items():
        row = [*key, counts[key]]
        for name in names:
            value = results[name].get(key)
            row.append("" if value is None else f"{100 * value:.2f}")
            if name != PLAIN:
                row.append("" if value is None or reference is None else f"{100 * (value - reference):+.2f}")
        rows.append(row)
    rows.append(["LLM decode tok/s", "", "", "", *[x for n in names for x in
                 ([f"{speeds[n]:.1f}"] if n == PLAIN else [f"{speeds[n]:.1f}", f"{speeds[n] / speeds[PLAIN]:.2f}x"])]])
    headers = ["task", "dataset", "metric", "n", *[h for n in names for h in ([n] if n == PLAIN else [n, "diff"])]]
    print(f"\n### {args.model} on {', '.join(map(str, args.data))} ({torch.get_num_threads()} threads)\n")
    print(tabulate(rows, headers=headers, tablefmt="github"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
