"""Evaluation and prediction on a trained model: `emollm eval` (answer, score, report) and
`emollm predict` (answer clips without gold labels).

    from emollm.evaluation import predict_clip
    predict_clip("runs/demo/train/final", "clip.mp4", "ERG")

Layers inside: `answering` (queries -> answers through `emollm.inference`) <- `evaluate` (plans,
resumable batches) and `predict`; `scoring` <- `tables`, `plots` <- `report` (reads predictions
and metrics only: nothing here imports the runner back); `cli` registers the commands. The
names below load on first use (PEP 562), so `emollm --help` imports no torch.
"""

from __future__ import annotations

import importlib

_NAMES = {"EvalPlan": "emollm.evaluation.evaluate", "evaluate": "emollm.evaluation.evaluate",
          "Predictor": "emollm.evaluation.predict", "predict_clip": "emollm.evaluation.predict"}

__all__ = list(_NAMES)


def __getattr__(name: str):
    if name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'emollm.evaluation' has no attribute {name!r}")
