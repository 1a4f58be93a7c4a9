"""A vLLM OpenAI server for an EmoLLM model directory as a child process (`launch.py` in the vLLM
environment), for the tests and the benchmark: started on a free 127.0.0.1 port, ready once
`/v1/models` answers, stopped with its whole process group (vLLM spawns an engine-core process)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PYTHON = REPO_ROOT / ".venv-vllm" / "bin" / "python"


def vllm_python() -> Path | None:
    """The vLLM environment's interpreter (EMOLLM_VLLM_PYTHON, else .venv-vllm), None when absent."""
    path = Path(os.environ.get("EMOLLM_VLLM_PYTHON") or DEFAULT_PYTHON)
    return path if path.exists() else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class VllmServer:
    def __init__(self, model_dir: str | Path, log_path: str | Path, python: str | Path | None = None,
                 extra_args: list[str] | None = None, env: dict[str, str] | None = None):
        self.model_dir = Path(model_dir)
        self.port = free_port()
        self.log_path = Path(log_path)
        python = python or vllm_python()
        if python is None:
            raise FileNotFoundError(f"no vLLM environment at {DEFAULT_PYTHON}: run `make install-vllm`")
        command = [str(python), "-m", "serve.vllm_plugin.launch", "--model", str(self.model_dir),
                   "--port", str(self.port), *(extra_args or [])]
        child_env = {**os.environ, "HF_HUB_OFFLINE": "1", "VLLM_CPU_KVCACHE_SPACE": "1", **(env or {})}
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(command, cwd=REPO_ROOT, env=child_env, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 900.0) -> VllmServer:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"vLLM exited with {self.process.returncode} before it was ready:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/v1/models", timeout=5) as response:
                    if response.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(2)
        self.stop()
        raise TimeoutError(f"vLLM was not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        self.log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.log.close()
