"""A wheel install works outside the checkout: the wheel is built from the project's sources,
installed into a fresh venv in a temporary directory, and `emollm info tiny` and a one-step
`emollm train` of the shipped tiny curriculum (by name) run from another directory, finding the
presets, curricula and tokenizer shipped inside the package.

The venv reuses this interpreter's installed dependencies through a .pth file (the point is
the package data, not a second multi-GB install); the wheel's own site-packages comes first on
sys.path, and .pth files inside the reused directories are not processed (site.addsitedir
reads .pth files only in site directories), so this checkout's editable install stays out."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = ["pyproject.toml", "README.md", "emollm", "data_pipeline", "train", "serve"]
TIMEOUT = 600  # below pytest's per-test --timeout (pyproject.toml)


def _call(command: list, cwd: Path) -> str:
    result = subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT,
                            env=os.environ | {"HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, f"{command}:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv holding the wheel; returns its bin/ directory."""
    root = tmp_path_factory.mktemp("install")
    source = root / "source"  # a copy: an in-tree build would leave build/ in the checkout
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy(REPO / name, source / name)
    wheels = root / "wheels"
    _call([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", wheels, source],
          cwd=root)
    (wheel,) = wheels.glob("emollm-*.whl")

    venv = root / "venv"
    _call([sys.executable, "-m", "venv", "--without-pip", venv], cwd=root)
    (site_packages,) = (venv / "lib").glob("python*/site-packages")
    reused = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    (site_packages / "_reuse_deps.pth").write_text("\n".join(reused) + "\n")
    _call([sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--no-deps", "-q", wheel],
          cwd=root)
    return venv / "bin"


@pytest.mark.slow  # a wheel build and a training run in a new venv: over a minute on 2 cores
def test_the_wheel_ships_its_configs_and_runs_outside_the_checkout(installed, tmp_path, synthetic_set):
    where = _call([installed / "python", "-c", "import emollm, train; print(emollm.__file__, train.__file__)"],
                  cwd=tmp_path)
    assert str(REPO) not in where and where.count(str(installed.parent)) == 2

    info = re.sub(r" +", " ", _call([installed / "emollm", "info", "tiny"], cwd=tmp_path))  # tabulate pads cells
    assert "| tower.frames |" in info and "**total**" in info

    out = tmp_path / "run"
    _call([installed / "emollm", "train", "--config", "p2e-tiny", "--out", out, "--phase", "1a",
           "phases.1a.init=base", "steps=1", "phases.1a.batch_size=2", f"datasets.synthetic.records={synthetic_set}",
           "datasets.synthetic.generate=null"], cwd=tmp_path)
    assert (out / "1a" / "model.safetensors").is_file() and (out / "base" / "config.json").is_file()
