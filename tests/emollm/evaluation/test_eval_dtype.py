"""`--dtype` on eval/predict: answers are computed in the dtype asked for, and an evaluation
resumed in another dtype stops instead of mixing answers of two dtypes."""

from __future__ import annotations

import json

import pytest
import torch

from data_pipeline.errors import UserFacingError
from emollm.evaluation.answering import ModelSource
from emollm.evaluation.evaluate import EvalPlan, evaluate

PLAN = {"tasks": ("MER",), "limit": 2, "batch_size": 2}


def test_the_model_loads_in_the_dtype_asked_for(tiny_model_dir):
    source = ModelSource(model_dir=tiny_model_dir, dtype="bfloat16")
    model, _ = source.load()
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    assert source.dtype == "bfloat16"
    assert ModelSource(model_dir=tiny_model_dir, dtype="float32").dtype == "float32"


def test_a_resumed_evaluation_never_mixes_dtypes(tiny_model_dir, synthetic_set, tmp_path):
    out = tmp_path / "eval"
    evaluate(ModelSource(model_dir=tiny_model_dir, dtype="float32"), synthetic_set, out, EvalPlan(**PLAN),
             progress=False)
    assert json.loads((out / "eval_state.json").read_text())["dtype"] == "float32"
    with pytest.raises(UserFacingError, match="dtype"):
        evaluate(ModelSource(model_dir=tiny_model_dir, dtype="bfloat16"), synthetic_set, out,
                 EvalPlan(**PLAN), progress=False)

