"""`emollm eval`: answer the selected records (and each modality ablation of them) in batches,
appending to `predictions.jsonl` as answers come, then score and report (`report.py`).

Determinism: records are sorted (task, dataset, id) and cut into fixed batches before anything
is skipped, so a resumed run asks every batch exactly as an uninterrupted one would; decoding is
greedy and seeded; clip features go through the same bf16 rounding whether cached or not.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from data_pipeline.errors import UserFacingError
from data_pipeline.schema import Record, read_records
from data_pipeline.tasks import Task
from emollm.evaluation.answering import Answerer, ModelSource, Query, generation_settings
from emollm.evaluation.scoring import FULL_RUN
from emollm.evaluation.store import PREDICTIONS, PredictionLog, check_state
from emollm.records import ABLATIONS, record_inputs

logger = logging.getLogger(__name__)

ALL_SPLITS = "all"
TASK_ORDER = [task.value for task in Task]


def run_name(modality: str | None) -> str:
    return FULL_RUN if modality is None else f"no-{modality}"


@dataclass
class EvalPlan:
    split: str = "test"  # a split name, or "all"
    tasks: tuple[str, ...] | None = None  # None: every task in the file
    ablate: tuple[str, ...] = ()  # modalities to remove, one rerun each
    ablate_tasks: tuple[str, ...] | None = None  # tasks the ablation reruns ask (None: all selected)
    batch_size: int = 8
    limit: int | None = None  # at most this many records per task and dataset
    max_new_tokens: dict[str, int] = field(default_factory=dict)

    def __post_init__(self):
        self.tasks = tuple(Task(t).value for t in self.tasks) if self.tasks else None
        self.ablate_tasks = tuple(Task(t).value for t in self.ablate_tasks) if self.ablate_tasks else None
        unknown = sorted(set(self.ablate) - set(ABLATIONS))
        if unknown:
            raise UserFacingError(f"--ablate: unknown modality {', '.join(unknown)}; choose from {', '.join(ABLATIONS)}")
        self.ablate = tuple(m for m in ABLATIONS if m in self.ablate)
        if self.batch_size < 1:
            raise UserFacingError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.limit is not None and self.limit < 1:
            raise UserFacingError(f"--limit must be at least 1, got {self.limit}")

    def runs(self) -> list[tuple[str, frozenset[str]]]:
        return [(FULL_RUN, frozenset()), *((run_name(m), frozenset({m})) for m in self.ablate)]


@dataclass
class InferenceStats:
    asked: int = 0  # answers this run produced
    reused: int = 0  # answers found in predictions.jsonl
    errors: int = 0  # of the answers this run produced, those whose clip could not be read
    seconds: float = 0.0
    model_loaded: bool = False
    threads: int | None = None  # torch CPU threads used for answering


def select_records(records: list[Record], plan: EvalPlan) -> list[Record]:
    """The records a plan evaluates, in a fixed order; an empty selection is an error naming what the file has."""
    chosen = [r for r in records if (plan.split == ALL_SPLITS or r.split == plan.split)
              and (plan.tasks is None or r.task.value in plan.tasks)]
    if not chosen:
        splits = sorted({r.split for r in records})
        tasks = sorted({r.task.value for r in records}, key=TASK_ORDER.index)
        raise UserFacingError(f"no records with split {plan.split!r} and tasks {', '.join(plan.tasks or ['any'])}; "
                              f"the file has splits {', '.join(splits) or 'none'} (or 'all') and tasks {', '.join(tasks) or 'none'}")
    ids = [r.id for r in chosen]
    if len(set(ids)) != len(ids):
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        raise UserFacingError(f"record ids must be unique; repeated: {', '.join(duplicates[:5])}")
    chosen.sort(key=lambda r: (TASK_ORDER.index(r.task.value), r.dataset, r.id))
    if plan.limit:
        seen: dict[tuple[str, str], int] = {}
        kept = []
        for record in chosen:
            group = (record.task.value, record.dataset)
            seen[group] = seen.get(group, 0) + 1
            if seen[group] <= plan.limit:
                kept.append(record)
        chosen = kept
    return chosen


def run_batches(records: list[Record], plan: EvalPlan) -> list[tuple[str, list[Query]]]:
    """(run, queries) batches: per run, per task, consecutive records cut into batches."""
    batches = []
    for run, drop in plan.runs():
        tasks = plan.ablate_tasks if drop and plan.ablate_tasks else None
        for task in TASK_ORDER:
            if tasks is not None and task not in tasks:
                continue
            queries = [Query(r.id, task, *_inputs(r, drop)) for r in records if r.task.value == task]
            batches += [(run, queries[i:i + plan.batch_size]) for i in range(0, len(queries), plan.batch_size)]
    return batches


def _inputs(record: Record, drop: frozenset[str]) -> tuple[list[dict], object]:
    inputs = record_inputs(record, drop=drop, with_answer=False)
    return inputs.messages, inputs.clip


def answer_all(source: ModelSource, records: list[Record], plan: EvalPlan, out_dir: Path,
               progress: bool = True, threads: int | None = None) -> InferenceStats:
    """Answer every (run, record) not yet in predictions.jsonl; a batch with any missing answer is
    asked whole (only the missing rows are written), so answers never depend on where a run stopped."""
    log = PredictionLog(out_dir / PREDICTIONS)
    done = log.load()
    batches = run_batches(records, plan)
    todo = [(run, batch) for run, batch in batches if any((run, q.key) not in done for q in batch)]
    missing = sum((run, q.key) not in done for run, batch in todo for q in batch)
    stats = InferenceStats(reused=sum(len(batch) for _, batch in batches) - missing)
    if not todo:
        return stats
    start = time.perf_counter()
    model, processor = source.load()
    stats.model_loaded = True
    answerer = Answerer(model, processor, max_new_tokens=plan.max_new_tokens, threads=threads)
    stats.threads = answerer.threads
    by_id = {r.id: r for r in records}
    bar = tqdm(total=missing, desc="eval", unit="answer", disable=not progress)
    for run, batch in todo:
        bar.set_postfix_str(f"{run} {batch[0].task}", refresh=False)
        rows = []
        for answer in answerer.answer(batch):
            if (run, answer.key) in done:
                continue
            record = by_id[answer.key]
            rows.append({"run": run, "id": answer.key, "task": answer.task, "dataset": record.dataset,
                         "prediction": answer.text, "error": answer.error})
            stats.errors += answer.error is not None
        log.append(rows)
        stats.asked += len(rows)
        bar.update(len(rows))
    bar.close()
    stats.seconds = round(time.perf_counter() - start, 2)
    return stats


def eval_state(source: ModelSource, records_path: Path, plan: EvalPlan) -> dict:
    from emollm.feature_cache import file_hash

    budgets = generation_settings(plan.max_new_tokens)["max_new_tokens"]
    return {"model": source.identity, "dtype": source.dtype, "cpu_optimizations": source.cpu_optimizations,
            "data_sha256": file_hash(records_path),
            "batch_size": plan.batch_size,
            "max_new_tokens": dict(sorted(budgets.items()))}


def evaluate(model_or_dir, records_path: str | Path, out_dir: str | Path, plan: EvalPlan | None = None, *,
             judge=None, wheel=None, overwrite: bool = False, overwrite_if_changed: bool = False,
             progress: bool = True, command: dict | None = None, threads: int | None = None):
    """Answer, score and report. `model_or_dir`: a model directory or a (model, processor) pair;
    `threads`: torch CPU threads (default: 1 for a small model, else torch's default).
    Returns the report (emollm.evaluation.report.Report): metrics, markdown and the paths written."""
    from emollm.evaluation.report import build_report

    plan = plan or EvalPlan()
    source = ModelSource.of(model_or_dir)
    records_path, out_dir = Path(records_path), Path(out_dir)
    records = select_records(read_records(records_path), plan)
    check_state(out_dir, eval_state(source, records_path, plan), overwrite=overwrite,
                overwrite_if_changed=overwrite_if_changed)
    logger.info("evaluating %s on %d records of %s (split %s), runs: %s", source.name, len(records),
                records_path, plan.split, ", ".join(r for r, _ in plan.runs()))
    stats = answer_all(source, records, plan, out_dir, progress=progress, threads=threads)
    logger.info("answers: %d new, %d reused, %d unreadable clips", stats.asked, stats.reused, stats.errors)
    rows = PredictionLog(out_dir / PREDICTIONS).load()
    examples: dict = {}  # the first prompt of each run and task, for run_info.json
    for run, batch in run_batches(records, plan):
        examples.setdefault(run, {}).setdefault(batch[0].task, batch[0].messages)
    return build_report(out_dir, source=source, records_path=records_path, records=records, plan=plan,
                        rows=rows, stats=asdict(stats), judge=judge, wheel=wheel, command=command,
                        generation=generation_settings(plan.max_new_tokens), examples=examples)
