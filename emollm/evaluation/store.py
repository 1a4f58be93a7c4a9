"""What an evaluation directory keeps between runs.

* `predictions.jsonl`: one row per answered (run, record id), appended batch by batch and
  flushed, so a killed run loses at most the batch it was in; a torn last line is cut off on
  the next start.
* `eval_state.json`: the model, data and decoding settings the predictions came from. A rerun
  with a different model, data file or batching would mix answers of two set-ups, so it is
  refused (with `--overwrite`, or `--overwrite-if-changed` when it differs, the old predictions
  and reports are removed instead).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

from data_pipeline.errors import UserFacingError

logger = logging.getLogger(__name__)

PREDICTIONS = "predictions.jsonl"
STATE = "eval_state.json"
OUTPUTS = (PREDICTIONS, STATE, "metrics.json", "report.md", "run_info.json", "tables", "confusion")


class PredictionLog:
    """Append-only JSONL of answers keyed by (run, id)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def load(self) -> dict[tuple[str, str], dict]:
        if not self.path.exists():
            return {}
        self._cut_torn_tail()
        rows: dict[tuple[str, str], dict] = {}
        with self.path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    rows[(row["run"], row["id"])] = row
                except (json.JSONDecodeError, KeyError, TypeError):
                    raise UserFacingError(f"{self.path}:{number}: not a prediction row; "
                                          "fix or delete the line, or rerun with --overwrite") from None
        return rows

    def _cut_torn_tail(self) -> None:
        """A run killed mid-write can leave a last line without its newline: drop that line."""
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            with self.path.open("r+b") as handle:
                handle.truncate(data.rfind(b"\n") + 1)

    def append(self, rows: list[dict]) -> None:
        if not rows:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = "".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())


def check_state(out_dir: Path, state: dict, overwrite: bool = False, overwrite_if_changed: bool = False) -> None:
    """Refuse to add answers of a different set-up to an existing evaluation directory (with
    `overwrite_if_changed`, discard the old answers instead; with `overwrite`, always)."""
    path = out_dir / STATE
    changed = _changed(path, state)
    if changed and overwrite_if_changed and not overwrite:
        logger.warning("%s holds predictions from a different set-up (%s changed): evaluating again",
                       out_dir, ", ".join(changed))
        overwrite = True
    if overwrite:
        _remove_outputs(out_dir)
    elif changed:
        raise UserFacingError(
            f"{out_dir} holds predictions from a different set-up ({', '.join(changed)} changed); "
            "use another --out, or --overwrite to discard them")
    elif path.exists():
        return
    elif (out_dir / PREDICTIONS).exists():
        raise UserFacingError(f"{out_dir / PREDICTIONS} exists without {STATE}; "
                              "use another --out, or --overwrite to discard it")
    out_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")


def _changed(path: Path, state: dict) -> list[str]:
    if not path.exists():
        return []
    old = json.loads(path.read_text())
    return sorted(key for key in set(old) | set(state) if old.get(key) != state.get(key))


def _remove_outputs(out_dir: Path) -> None:
    for name in OUTPUTS:
        target = out_dir / name
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
