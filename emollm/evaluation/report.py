"""An evaluation directory's reports, written from its predictions:

* `metrics.json`: every score of every (run, task, dataset); no timings or paths, so two runs
  on the same model and data write the same file;
* `report.md` and `tables/*.md`: the MER-UniBench table, an overview, one table per task, the
  modality ablations, unparsed answers and unreadable clips, the judge;
* `confusion/<task>_<dataset>.png`: one confusion matrix per classification set (full run);
* `run_info.json`: the exact prompts, seeds, decoding settings, judge, package versions, timings.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from data_pipeline.atomic import write_atomic
from emollm.evaluation.plots import confusion_pngs
from emollm.evaluation.scoring import FULL_RUN, score_runs, unparsed_count
from emollm.evaluation.tables import ablation_table, benchmark_table, overview_table, summary_rows, task_table
from emollm.versions import package_versions

FORMAT = "emollm-eval/1"
PACKAGES = ("emollm", "torch", "transformers", "tokenizers", "numpy", "scikit-learn", "sacrebleu", "rouge-score",
            "matplotlib", "openai", "av", "decord", "opencv-python-headless", "pydantic")


@dataclass
class Report:
    metrics: dict
    markdown: str  # the whole report.md
    summary: str  # what the command prints: the benchmark, overview and ablation tables
    paths: dict[str, Path] = field(default_factory=dict)


def build_report(out_dir: Path, *, source, records_path: Path, records: list, plan, rows: dict, stats: dict,
                 judge=None, wheel=None, command: dict | None = None, generation: dict | None = None,
                 examples: dict | None = None) -> Report:
    """Score `rows` and write every report file. `generation`: the decoding settings; `examples`:
    {run: {task: first prompt}} (both for run_info.json, from the evaluation run)."""
    from emollm.feature_cache import file_hash
    from emollm.metrics import load_wheel
    from emollm.metrics.judge import NO_JUDGE, resolve_judge

    judge = resolve_judge(judge)
    wheel = load_wheel(wheel)
    runs = [run for run, _ in plan.runs()]
    metrics = {
        "format": FORMAT,
        "model": {"name": source.name, "sha256": source.identity},
        "data": {"file": records_path.name, "sha256": file_hash(records_path), "split": plan.split,
                 "records": len(records)},
        "judge": judge.describe() if judge else dict(NO_JUDGE),
        "wheel": wheel.describe(),
        "runs": score_runs(records, rows, runs, judge=judge, wheel=wheel),
    }
    metrics["summary"] = summary_rows(metrics["runs"])
    metrics["gap"] = gap_by_dataset(records, rows, wheel)
    write_atomic(out_dir / "metrics.json", json.dumps(metrics, indent=2, ensure_ascii=False) + "\n")
    tables = _tables(metrics, source.name)
    for name, table in tables.items():
        write_atomic(out_dir / "tables" / f"{name}.md", table + "\n")
    pngs = confusion_pngs(metrics["runs"], out_dir / "confusion")
    markdown = _markdown(metrics, tables, pngs, out_dir)
    write_atomic(out_dir / "report.md", markdown)
    info = run_info(source, records_path, records, plan, stats, judge, command, generation, examples or {})
    write_atomic(out_dir / "run_info.json", json.dumps(info, indent=2, ensure_ascii=False, default=str) + "\n")
    summary = "\n\n".join(t for n, t in tables.items() if n in ("benchmark", "overview", "gap", "ablations"))
    paths = {"metrics": out_dir / "metrics.json", "report": out_dir / "report.md",
             "run_info": out_dir / "run_info.json", "predictions": out_dir / "predictions.jsonl"}
    return Report(metrics, markdown, summary, paths | {f"confusion:{p.stem}": p for p in pngs})


def gap_by_dataset(records: list, rows: dict, wheel) -> dict:
    """{dataset: perception_empathy_gap} over the full run's clips asked both MER and ERG."""
    from emollm.metrics.gap import perception_empathy_gap

    answers: dict = {}
    for record in records:
        row = rows.get((FULL_RUN, record.id))
        if row is None or row.get("error") is not None or record.task.value not in ("MER", "ERG"):
            continue
        media = record.media
        clip = str(media.video or media.image or media.audio or record.id)
        answers.setdefault(record.dataset, {}).setdefault(record.task.value, {})[clip] = (
            str(record.labels.emotion or ""), row.get("prediction") or "")
    return {dataset: perception_empathy_gap(tasks["MER"], tasks["ERG"], wheel)
            for dataset, tasks in sorted(answers.items()) if "MER" in tasks and "ERG" in tasks}


def gap_table(gap: dict, model_name: str) -> str:
    from data_pipeline.tables import markdown_table

    def pct(value):
        return None if value is None else round(100 * value, 2)

    headers = ["model", "dataset", "clips", "MER Acc", "ERG emotion Acc", "gap (points)"]
    return markdown_table(headers, [[model_name, dataset, g["n"], pct(g["mer_accuracy"]),
                                     pct(g["erg_emotion_accuracy"]), pct(g["gap"])] for dataset, g in gap.items()])


def _tables(metrics: dict, model_name: str) -> dict[str, str]:
    runs = metrics["runs"]
    tables = {}
    benchmark = benchmark_table(runs, model_name)
    if benchmark:
        tables["benchmark"] = benchmark
    tables["overview"] = overview_table(metrics["summary"])
    for task, datasets in runs.get(FULL_RUN, {}).items():
        tables[f"task_{task}"] = task_table(task, datasets)
    if metrics.get("gap"):
        tables["gap"] = gap_table(metrics["gap"], model_name)
    ablations = ablation_table(runs)
    if ablations:
        tables["ablations"] = ablations
    return tables


def _markdown(metrics: dict, tables: dict[str, str], pngs: list[Path], out_dir: Path) -> str:
    data, model = metrics["data"], metrics["model"]
    runs = list(metrics["runs"])
    lines = [f"# Evaluation of {model['name']}", "",
             f"Model sha256 `{model['sha256']}`; data `{data['file']}` (sha256 `{data['sha256'][:16]}`), "
             f"split `{data['split']}`, {data['records']} records; runs: {', '.join(runs)}. "
             "Greedy decoding, seed 0; prompts, settings and versions are in `run_info.json`.", ""]
    if "benchmark" in tables:
        lines += ["## MER-UniBench layout", "", tables["benchmark"], ""]
    lines += ["## All tasks", "", tables["overview"], ""]
    if "gap" in tables:
        lines += ["## Perception vs empathy (same clips)", "", tables["gap"], "",
                  "MER: the emotion answer is right; ERG: the chain's `Speaker emotion` names the gold emotion "
                  "(and no other); gap = MER - ERG, in points.", ""]
    for name, table in tables.items():
        if name.startswith("task_"):
            lines += [f"### {name.removeprefix('task_')}", "", table, ""]
    if "ablations" in tables:
        lines += ["## Modality ablations", "", tables["ablations"], ""]
    lines += ["## Unparsed answers", "", *_unparsed_lines(metrics["runs"]), ""]
    lines += ["## Unreadable clips", "", *_error_lines(metrics["runs"]), ""]
    lines += ["## Judge (ERI)", "", *_judge_lines(metrics["judge"]), ""]
    if pngs:
        lines += ["## Confusion matrices", "", *(f"![{p.stem}]({p.relative_to(out_dir)})" for p in pngs), ""]
    return "\n".join(lines)


def _unparsed_lines(runs: dict) -> list[str]:
    lines = []
    for run, tasks in runs.items():
        for task, datasets in tasks.items():
            for dataset, scores in datasets.items():
                count = unparsed_count(task, scores)
                if count:
                    examples = "; ".join(f"`{e['id']}`: {json.dumps(e['answer'][:80])}" for e in scores["unparsed_examples"])
                    lines.append(f"- {run} · {task} · {dataset}: {count} of {scores.get('n', 0)} "
                                 f"(counted as wrong). E.g. {examples}")
    return lines or ["None: every answer gave a usable label."]


def _error_lines(runs: dict) -> list[str]:
    lines = []
    for run, tasks in runs.items():
        for task, datasets in tasks.items():
            for dataset, scores in datasets.items():
                for item in scores.get("error_ids", [])[:10]:
                    lines.append(f"- {run} · {task} · {dataset} · `{item['id']}`: {item['error']}")
    return lines or ["None."]


def _judge_lines(judge: dict) -> list[str]:
    if not judge.get("judge_model"):
        return [f"{judge.get('status', 'not computed (no judge)')}: judged ERI scores are reported as n/c. "
                "Give `--judge-url URL --judge-model NAME` to compute them."]
    return [f"Judge model `{judge['judge_model']}` at `{judge['base_url']}`, prompt `{judge['prompt_version']}`, "
            f"temperature {judge['temperature']}, seed {judge['seed']}.", "", "System prompt:", "",
            "```", judge["system"], "```", "", "Prompt:", "", "```", judge["prompt"], "```"]


def run_info(source, records_path: Path, records: list, plan, stats: dict, judge, command, generation: dict | None,
             examples: dict) -> dict:
    from data_pipeline.tasks import EMPATHY_CHAIN_FIELDS, TASK_INSTRUCTIONS

    return {
        "command": command, "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "model": {"name": source.name, "path": str(source.model_dir) if source.model_dir else None,
                  "sha256": source.identity},
        "data": {"path": str(records_path), "records": len(records), "ids": [r.id for r in records]},
        "plan": asdict(plan), "generation": generation,
        "prompts": {"instructions": {str(k): v for k, v in TASK_INSTRUCTIONS.items()},
                    "empathy_chain": list(EMPATHY_CHAIN_FIELDS), "chat_template": _chat_template(source),
                    "first_prompt_per_run_and_task": examples},
        "judge": judge.describe() if judge else None,
        "inference": stats, "cpu_count": os.cpu_count(), "versions": package_versions(PACKAGES),
    }


def _chat_template(source) -> str | None:
    from emollm.inference import processor_dir

    if source.loaded:
        return source.load()[1].chat_template
    template = processor_dir(source.model_dir) / "chat_template.jinja"
    return template.read_text() if template.exists() else None
