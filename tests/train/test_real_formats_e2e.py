"""A researcher's first day on three public sets in their published layouts (fixtures built from
the datasets' own descriptions, tests/data_pipeline/fixtures_converters.py): `emollm data prepare`
on each -> a short curriculum naming them -> `emollm eval` on their test splits, with every task
they carry (MER from MER2023, OV-MER and ERI from OV-MERD, ERG from AvaMERG) scored."""

from __future__ import annotations

import json

import yaml

from data_pipeline.schema import read_records
from emollm.cli import run
from tests.data_pipeline.fixtures_converters import FIXTURES


def _prepare(name: str, root, out, *options: str) -> list:
    argv = ["data", "prepare", "--dataset", name, "--root", str(root), "--out", str(out), "--workers", "1"]
    for option in options:
        argv += ["--option", option]
    assert run(argv) == 0
    assert (out / "rejects.jsonl").read_text() == ""  # the published layouts prepare with 0 rejects
    return read_records(out / "records.jsonl")


def test_prepare_train_and_eval_on_real_layouts(tiny_model_dir, tmp_path, capsys):
    data = tmp_path / "data"
    for name in ("mer2023", "ovmerd", "avamerg"):
        FIXTURES[name](data / name)
    prepared = {name: _prepare(name, data / name, tmp_path / "prepared" / name)
                for name in ("mer2023", "ovmerd", "avamerg")}
    # OV-MERD has no split files: its default is test (MER-UniBench's role for it); to train on it
    # as MER2025 does, prepare it with split=train
    _prepare("ovmerd", data / "ovmerd", tmp_path / "prepared" / "ovmerd-train", "split=train")

    curriculum = {
        "name": "real-formats", "model": {"dir": str(tiny_model_dir)}, "seed": 0,
        "feature_cache_dir": str(tmp_path / "cache"),
        "datasets": {"mer2023": {"records": str(tmp_path / "prepared" / "mer2023" / "records.jsonl")},
                     "ovmerd": {"records": str(tmp_path / "prepared" / "ovmerd-train" / "records.jsonl")},
                     "avamerg": {"records": str(tmp_path / "prepared" / "avamerg" / "records.jsonl")}},
        "phases": {"1": {"init": "base", "train": ["adapter.*", "fusion", "llm"],
                         "data": [{"dataset": "mer2023", "tasks": ["MER"]},
                                  {"dataset": "ovmerd", "tasks": ["OV-MER", "ERI"]},
                                  {"dataset": "avamerg", "tasks": ["ERG"]}],
                         "optim": {"lr": {"adapters": 1.0e-3, "fusion": 1.0e-3, "llm": 1.0e-3}},
                         "max_steps": 2, "batch_size": 2, "logging_steps": 1, "save_steps": 2}}}
    config = tmp_path / "real-formats.yaml"
    config.write_text(yaml.safe_dump(curriculum, sort_keys=False))
    assert run(["train", "--config", str(config), "--out", str(tmp_path / "run")]) == 0

    test_records = tmp_path / "test.jsonl"  # the three prepared sets' records in one file
    test_records.write_text("".join((tmp_path / "prepared" / n / "records.jsonl").read_text()
                                    for n in prepared))
    out = tmp_path / "eval"
    assert run(["eval", "--model", str(tmp_path / "run" / "final"), "--data", str(test_records),
                "--out", str(out), "--max-new-tokens", "MER=3", "OV-MER=6", "ERI=12", "ERG=24"]) == 0
    capsys.readouterr()
    runs = json.loads((out / "metrics.json").read_text())["runs"]["full"]
    expected = {"MER": {"mer2023": 3}, "OV-MER": {"ovmerd": 3}, "ERI": {"ovmerd": 3}, "ERG": {"avamerg": 1}}
    assert {task: {d: r["n"] for d, r in by_set.items()} for task, by_set in runs.items()} == expected
    eri = runs["ERI"]["ovmerd"]
    assert eri["label_hit"] is not None and 0 <= eri["label_hit"] <= 1 and eri["gold_off_wheel"] == 0
    assert 0 <= runs["MER"]["mer2023"]["accuracy"] <= 1 and runs["OV-MER"]["ovmerd"]["f1"] is not None
    assert runs["ERG"]["avamerg"]["well_formed"] is not None
