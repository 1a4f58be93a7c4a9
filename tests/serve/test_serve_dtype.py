"""`emollm serve --dtype`: the engine holds the weights in the dtype asked for."""

from __future__ import annotations

import pytest
import torch


@pytest.mark.parametrize("name", ["bfloat16", "float32"])
def test_the_engine_serves_in_the_dtype_of_its_flag(tiny_model_dir, name):
    from emollm.dtypes import resolve_dtype
    from serve.engine import Engine

    engine = Engine.from_pretrained(tiny_model_dir, dtype=resolve_dtype(name))
    try:
        assert {p.dtype for p in engine.model.parameters()} == {getattr(torch, name)}
    finally:
        engine.close()
