"""Training tests share the session's tiny model and synthetic set, and one feature cache, and cap
every phase with `steps=` so the whole training suite stays within a few minutes."""

from __future__ import annotations

import pytest

from emollm.packaged import find_config


@pytest.fixture(scope="session")
def tiny_curriculum():
    """The shipped tiny curriculum file."""
    return find_config("curriculum", "p2e-tiny")


@pytest.fixture(scope="session")
def train_cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("train_feature_cache")


@pytest.fixture(scope="session")
def tiny_overrides(tiny_model_dir, synthetic_set, train_cache_dir) -> list[str]:
    """Point the tiny curriculum at the shared model, set and cache; small batches, frequent logs."""
    return [f"model.dir={tiny_model_dir}", "model.preset=null", f"datasets.synthetic.records={synthetic_set}",
            "datasets.synthetic.generate=null", f"feature_cache_dir={train_cache_dir}"]
