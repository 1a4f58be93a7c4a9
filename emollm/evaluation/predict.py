"""`emollm predict` and `predict_clip`: answer raw clips (video, image or audio files), folders
(every media file inside, recursively, sorted) and records files (.jsonl) without gold labels.

    from emollm.evaluation import predict_clip
    predict_clip("runs/demo/train/final", "clip.mp4", "ERG")
    # {"path": "clip.mp4", "task": "ERG", "answer": "...", "reasoning": "Event scenario: ...", "error": None}

One row per input: `path` (media) or `id` and `path` (records), `task`, `answer` (the reply,
without the chain of empathy), `reasoning` (the `<think>` chain, ERG; None otherwise), `error`
(None, or why the input could not be answered: a corrupt clip is an error row and the rest goes on).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path

from tqdm.auto import tqdm

from data_pipeline.atomic import write_atomic
from data_pipeline.clip import MEDIA_SUFFIXES, Clip, media_kind
from data_pipeline.errors import UserFacingError
from data_pipeline.schema import Record, Turn, read_records
from data_pipeline.tasks import Task, user_prompt
from emollm.evaluation.answering import Answerer, ModelSource, Query
from emollm.records import record_inputs

logger = logging.getLogger(__name__)

RECORD_SUFFIXES = {".jsonl"}
DEFAULT_TASK = Task.MER


def expand_inputs(inputs: Iterable[str | Path]) -> list[Path]:
    """Files in the order given; a folder becomes its media files (recursive, sorted, hidden ones
    skipped). A path that does not exist is an error; repeated paths are asked once."""
    files: list[Path] = []
    for given in inputs:
        path = Path(given)
        if not path.exists():
            raise UserFacingError(f"input not found: {path}")
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and media_kind(p)
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
            if not found:
                logger.warning("no media files in %s", path)
            files += found
        else:
            files.append(path)
    return list(dict.fromkeys(files))


def media_query(path: Path, task: Task | str, subtitle: str | None = None) -> Query:
    clip = Clip.of(path)
    prompt = user_prompt(task, subtitle)
    return Query(str(path), Task(task).value,
                 [{"role": "user", "content": [*clip.parts(), {"type": "text", "text": prompt}]}], clip)


def record_query(record: Record, task: Task | str | None = None) -> Query:
    """A record asked as its own task, or (given `task`) re-asked as another one."""
    if task is not None and Task(task) != record.task:
        record = record.model_copy(update={"task": Task(task), "conversation": [
            Turn(role="user", content=user_prompt(task, record.subtitle))]})
    inputs = record_inputs(record, with_answer=False)
    return Query(record.id, record.task.value, inputs.messages, inputs.clip)


class Predictor:
    """A loaded model answering clips and records in batches (greedy, seeded)."""

    def __init__(self, model, processor, batch_size: int = 8, max_new_tokens: dict[str, int] | None = None,
                 threads: int | None = None):
        if batch_size < 1:
            raise UserFacingError(f"--batch-size must be at least 1, got {batch_size}")
        self.answerer = Answerer(model, processor, max_new_tokens=max_new_tokens, threads=threads)
        self.batch_size = batch_size

    @classmethod
    def from_pretrained(cls, model_dir: str | Path, dtype: str | None = None, cpu_optimizations: bool = True,
                        **kwargs) -> Predictor:
        """`dtype`: a `--dtype` value (`auto`, `bfloat16`, ...); None keeps the dtype it was saved in.
        `cpu_optimizations`: emollm.cpu_inference, as the serving engine applies it."""
        return cls(*ModelSource(model_dir=model_dir, dtype=dtype, cpu_optimizations=cpu_optimizations).load(),
                   **kwargs)

    def predict_clip(self, path: str | Path, task: Task | str = DEFAULT_TASK, subtitle: str | None = None) -> dict:
        return self.predict_paths([path], task, subtitle, progress=False)[0]

    def predict_paths(self, inputs: Iterable[str | Path], task: Task | str | None = None,
                      subtitle: str | None = None, progress: bool = True) -> list[dict]:
        """One row per media file and per record, in input order."""
        jobs: list[tuple[dict, Query | None]] = []
        for path in expand_inputs(inputs):
            if path.suffix.lower() in RECORD_SUFFIXES:
                for record in read_records(path):
                    jobs.append(({"id": record.id, "path": record.media.visual_path or record.media.audio_path},
                                 record_query(record, task)))
            elif media_kind(path):
                jobs.append(({"path": str(path)}, media_query(path, task or DEFAULT_TASK, subtitle)))
            else:
                jobs.append(({"path": str(path), "task": Task(task or DEFAULT_TASK).value, "answer": None,
                              "reasoning": None, "error": f"{path}: unsupported file type {path.suffix or '(none)'}; "
                              f"expected media ({', '.join(sorted(MEDIA_SUFFIXES))}) or .jsonl records"}, None))
        return self._answer(jobs, progress)

    def _answer(self, jobs: list[tuple[dict, Query | None]], progress: bool) -> list[dict]:
        from emollm.metrics import split_reasoning

        by_task: dict[str, list[tuple[int, Query]]] = {}
        for index, (_, query) in enumerate(jobs):
            if query is not None:
                by_task.setdefault(query.task, []).append((index, query))  # one task per batch
        chunks = [items[i:i + self.batch_size] for _, items in sorted(by_task.items())
                  for i in range(0, len(items), self.batch_size)]
        rows = [row for row, _ in jobs]
        bar = tqdm(total=sum(map(len, chunks)), desc="predict", unit="clip", disable=not progress)
        for chunk in chunks:
            answers = self.answerer.answer([query for _, query in chunk])
            for (index, query), answer in zip(chunk, answers, strict=True):
                reasoning, reply = split_reasoning(answer.text) if answer.text is not None else (None, None)
                rows[index].update({"task": query.task, "answer": reply, "reasoning": reasoning,
                                    "error": answer.error})
            bar.update(len(chunk))
        bar.close()
        return rows


def predict_clip(model_or_dir, path: str | Path, task: Task | str = DEFAULT_TASK, subtitle: str | None = None) -> dict:
    """Answer one clip. `model_or_dir`: a model directory, a (model, processor) pair, or a Predictor."""
    return _predictor(model_or_dir).predict_clip(path, task, subtitle)


def _predictor(model_or_dir) -> Predictor:
    if isinstance(model_or_dir, Predictor):
        return model_or_dir
    return Predictor(*ModelSource.of(model_or_dir).load())


def write_rows(rows: list[dict], out: str | Path | None) -> None:
    """JSONL to `out` (written atomically) or to stdout."""
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    if out is None:
        print(text, end="")
    else:
        write_atomic(Path(out), text)
