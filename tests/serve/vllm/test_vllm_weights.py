"""Weights load strictly: a model directory whose safetensors file has a tensor the model lacks, or
lacks one the model has, fails vLLM's start with an error naming that tensor (never a silent
random init). One vLLM-environment process tries both directories."""

from __future__ import annotations

import json
import shutil
import subprocess

from safetensors.torch import load_file, save_file

SCRIPT = r"""
import json, sys
if __name__ == "__main__":
    from vllm import LLM
    errors = {}
    for folder in sys.argv[1:]:
        try:
            LLM(model=folder, dtype="float32", max_model_len=256, enforce_eager=True)
            errors[folder] = None
        except Exception as error:  # the engine core's error comes back as a RuntimeError; its log names it
            errors[folder] = repr(error)
    print(json.dumps(errors))
"""

EXTRA = "towers.face.embeddings.extra_scale"
DROPPED = "adapters.audio.queries"


def _variant(source, target, change) -> str:
    shutil.copytree(source, target)
    weights = load_file(target / "model.safetensors")
    change(weights)
    save_file(weights, target / "model.safetensors", metadata={"format": "pt"})
    return str(target)


def test_unexpected_and_missing_tensors_are_errors_naming_them(vllm_env, tiny_model_dir, tmp_path):
    import torch

    extra = _variant(tiny_model_dir, tmp_path / "extra", lambda w: w.__setitem__(EXTRA, torch.ones(3)))
    missing = _variant(tiny_model_dir, tmp_path / "missing", lambda w: w.pop(DROPPED))
    done = subprocess.run([str(vllm_env), "-c", SCRIPT, extra, missing], capture_output=True, text=True, timeout=900,
                          env={"HF_HUB_OFFLINE": "1", "VLLM_CPU_KVCACHE_SPACE": "1", "PATH": "/usr/bin:/bin"})
    errors = json.loads(done.stdout.strip().splitlines()[-1])
    assert errors[extra] is not None and errors[missing] is not None  # neither started
    log = done.stdout + done.stderr
    assert f"the checkpoint has a tensor the model lacks: {EXTRA}" in log
    assert "the checkpoint lacks 1 tensors of the model" in log and DROPPED in log
