"""Confusion-matrix PNGs (matplotlib, Agg backend: no display needed). Cells show counts; the
colour is the share of the gold row, so classes of different sizes read alike."""

from __future__ import annotations

import re
from pathlib import Path

from emollm.metrics.classification import UNPARSED  # the column of answers that gave no label


def safe_name(*parts: str) -> str:
    return "_".join(re.sub(r"[^A-Za-z0-9.-]+", "-", part).strip("-") for part in parts)


def confusion_png(confusion: dict, title: str, path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    columns, matrix = confusion["labels"], np.asarray(confusion["matrix"], dtype=float)
    rows = [label for label in columns if label != UNPARSED]  # no gold label is "unparsed"
    matrix = matrix[: len(rows)]
    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    size = max(4.0, 0.55 * len(columns) + 2.0)
    figure, axes = plt.subplots(figsize=(size + 1.0, size))
    image = axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    axes.set_xticks(range(len(columns)), columns, rotation=45, ha="right")
    axes.set_yticks(range(len(rows)), rows)
    axes.set_xlabel("predicted")
    axes.set_ylabel("gold")
    axes.set_title(title)
    for row in range(len(rows)):
        for column in range(len(columns)):
            count = int(matrix[row, column])
            if count:
                axes.text(column, row, str(count), ha="center", va="center", fontsize=8,
                          color="white" if shares[row, column] > 0.5 else "black")
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04, label="share of gold row")
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(figure)
    return path


def confusion_pngs(runs: dict, out_dir: str | Path, run: str = "full") -> list[Path]:
    """One PNG per classification set (task, dataset) of `run`."""
    written = []
    for task, datasets in runs.get(run, {}).items():
        for dataset, scores in datasets.items():
            if scores.get("confusion") and scores.get("n"):
                name = safe_name(task, dataset) + ".png"
                title = f"{task} · {dataset} (n={scores['n']})"
                written.append(confusion_png(scores["confusion"], title, Path(out_dir) / name))
    return written
