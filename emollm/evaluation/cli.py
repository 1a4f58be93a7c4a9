"""`emollm eval` and `emollm predict` (registered through the `emollm.commands` entry points)."""

from __future__ import annotations

import os
import sys

from data_pipeline.errors import UserFacingError
from data_pipeline.tasks import Task
from emollm.dtypes import cpu_optimizations_on
from emollm.records import ABLATIONS

TASK_NAMES = [task.value for task in Task]


def register(subparsers) -> None:
    _register_eval(subparsers)
    _register_predict(subparsers)


def _register_eval(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval", help="evaluate a model on a records file: metrics.json, tables, confusion PNGs, run_info.json",
        description="Batched, resumable, deterministic evaluation. Answers are appended to OUT/predictions.jsonl "
                    "as they come; a rerun continues where it stopped.")
    parser.add_argument("--model", required=True, help="model directory")
    parser.add_argument("--data", required=True, help="records file (.jsonl)")
    parser.add_argument("--out", required=True, help="evaluation directory")
    parser.add_argument("--split", default="test", help="split to evaluate, or 'all' (default: test)")
    parser.add_argument("--tasks", nargs="+", metavar="TASK", help=f"tasks (default: all in the file): {', '.join(TASK_NAMES)}")
    parser.add_argument("--ablate", nargs="+", metavar="MODALITY", default=[],
                        help=f"rerun without each modality and add a table of the drops: {', '.join(ABLATIONS)}")
    parser.add_argument("--ablate-tasks", nargs="+", metavar="TASK", help="tasks the ablation reruns ask (default: all)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--limit", type=int, help="at most N records per task and dataset")
    parser.add_argument("--max-new-tokens", nargs="+", metavar="TASK=N", default=[],
                        help="token budget per task, e.g. ERG=256")
    parser.add_argument("--judge-url", help="OpenAI-compatible base URL of the ERI judge, e.g. http://127.0.0.1:8000/v1")
    parser.add_argument("--judge-model", help="the judge's model name at that URL")
    parser.add_argument("--judge-api-key", help="the judge's API key (default: $EMOLLM_JUDGE_API_KEY)")
    parser.add_argument("--judge-max-tokens", type=int, help="longest verdict the judge may write (default 256)")
    parser.add_argument("--wheel", help="emotion wheel JSON for OV-MER/ERI/ERG scoring (default: the packaged one)")
    parser.add_argument("--name", help="model name in the tables (default: the model directory's name)")
    parser.add_argument("--overwrite", action="store_true", help="discard OUT's earlier predictions and reports")
    parser.add_argument("--overwrite-if-changed", action="store_true",
                        help="discard them only if they came from another model, data file or batching "
                             "(default: stop with an error)")
    _runtime_arguments(parser)
    parser.set_defaults(func=run_eval)


def _register_predict(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict", help="answer clips, folders of clips or records files (no gold labels needed)",
        description="One JSON line per input: path (or id), task, answer, reasoning (ERG's chain of empathy), "
                    "error. A file that can't be read becomes an error line and the rest goes on.")
    parser.add_argument("--model", required=True, help="model directory")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="video, image or audio files, folders, or .jsonl records")
    parser.add_argument("--task", choices=TASK_NAMES,
                        help="task to ask (default: MER for media, each record's own task for records)")
    parser.add_argument("--subtitle", help="what the speaker says, for media inputs")
    parser.add_argument("--out", help="JSONL file to write (default: stdout)")
    parser.add_argument("--batch-size", type=int, default=8)
    _runtime_arguments(parser)
    parser.set_defaults(func=run_predict)


def _runtime_arguments(parser) -> None:
    from emollm.dtypes import add_cpu_optimizations_argument, add_dtype_argument

    parser.add_argument("--threads", type=int,
                        help="torch CPU threads (default: 1 for a model under 50 M parameters, else all cores)")
    add_dtype_argument(parser)
    add_cpu_optimizations_argument(parser)


def _names(values: list[str] | None) -> list[str]:
    """Accept both `--tasks MER MSA` and `--tasks MER,MSA`."""
    return [item.strip() for value in values or [] for item in value.split(",") if item.strip()]


def _tasks(values: list[str] | None, option: str) -> tuple[str, ...] | None:
    names = _names(values)
    unknown = [n for n in names if n.upper() not in TASK_NAMES]
    if unknown:
        raise UserFacingError(f"{option}: unknown task {', '.join(unknown)}; choose from {', '.join(TASK_NAMES)}")
    return tuple(n.upper() for n in names) or None


def _budgets(values: list[str]) -> dict[str, int]:
    budgets = {}
    for item in _names(values):
        task, _, number = item.partition("=")
        if task.upper() not in TASK_NAMES or not number.isdigit() or int(number) < 1:
            raise UserFacingError(f"--max-new-tokens: expected TASK=N with TASK in {', '.join(TASK_NAMES)}, got {item!r}")
        budgets[task.upper()] = int(number)
    return budgets


def _judge(args) -> dict | None:
    if not args.judge_url and not args.judge_model:
        return None
    if not (args.judge_url and args.judge_model):
        raise UserFacingError("the judge needs both --judge-url and --judge-model")
    from emollm.metrics import JudgeConfig

    key = args.judge_api_key or os.environ.get("EMOLLM_JUDGE_API_KEY")
    extra = {"max_tokens": args.judge_max_tokens} if args.judge_max_tokens else {}
    try:
        return JudgeConfig(base_url=args.judge_url, model=args.judge_model, api_key=key, **extra)
    except ValueError as error:
        raise UserFacingError(f"judge: {error}") from None


def _arguments(args) -> dict:
    """The parsed options, for run_info.json (the API key left out)."""
    return {k: v for k, v in vars(args).items() if k not in ("func", "judge_api_key")} | {"subcommand": "eval"}


def run_eval(args) -> int:
    optimized = cpu_optimizations_on(args)  # before torch is imported
    from emollm.evaluation.answering import ModelSource
    from emollm.evaluation.evaluate import EvalPlan, evaluate

    plan = EvalPlan(split=args.split, tasks=_tasks(args.tasks, "--tasks"), ablate=tuple(_names(args.ablate)),
                    ablate_tasks=_tasks(args.ablate_tasks, "--ablate-tasks"), batch_size=args.batch_size,
                    limit=args.limit, max_new_tokens=_budgets(args.max_new_tokens))
    source = ModelSource(model_dir=args.model, name=args.name, dtype=args.dtype,
                         cpu_optimizations=optimized)
    report = evaluate(source, args.data, args.out, plan, judge=_judge(args), wheel=args.wheel,
                      overwrite=args.overwrite, overwrite_if_changed=args.overwrite_if_changed,
                      command=_arguments(args), threads=args.threads)
    print(report.summary)
    print(f"\nreport: {report.paths['report']}\nmetrics: {report.paths['metrics']}\n"
          f"run info (prompts, seeds, versions): {report.paths['run_info']}")
    return 0


def run_predict(args) -> int:
    optimized = cpu_optimizations_on(args)  # before torch is imported
    from emollm.evaluation.predict import Predictor, expand_inputs, write_rows

    expand_inputs(args.inputs)  # a missing input fails before the model is loaded
    predictor = Predictor.from_pretrained(args.model, dtype=args.dtype, batch_size=args.batch_size,
                                          threads=args.threads, cpu_optimizations=optimized)
    rows = predictor.predict_paths(args.inputs, task=args.task, subtitle=args.subtitle)
    write_rows(rows, args.out)
    failed = sum(row.get("error") is not None for row in rows)
    where = f" to {args.out}" if args.out else ""
    print(f"answered {len(rows) - failed} of {len(rows)} inputs{where}"
          + (f"; {failed} could not be read (see their error field)" if failed else ""), file=sys.stderr)
    return 1 if failed else 0
