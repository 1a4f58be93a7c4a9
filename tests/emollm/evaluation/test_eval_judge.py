"""The ERI judge through `emollm eval --judge-url/--judge-model`, against EmoLLM's own server
(`emollm serve` in a subprocess on 127.0.0.1) serving the tiny random model: its verdicts are
unparseable, which must be counted as such (not crash, not score zero), and the judge model and
prompt must be written into the report."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from emollm.cli import run

SERVED = "tiny-judge"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def judge_server(tiny_model_dir, tmp_path_factory):
    port = free_port()
    log = (tmp_path_factory.mktemp("judge") / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-c", "from emollm.cli import main; main()", "serve", "--model", str(tiny_model_dir),
         "--host", "127.0.0.1", "--port", str(port), "--no-ui", "--served-model-name", SERVED],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"emollm serve exited with {process.returncode}; see {log.name}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                break
        except OSError:
            time.sleep(0.5)
    else:
        process.kill()
        raise RuntimeError("emollm serve did not come up in 180 s")
    yield f"{url}/v1"
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


def test_eval_with_own_server_as_judge(judge_server, tiny_model_dir, synthetic_set, tmp_path, capsys):
    out = tmp_path / "eval"
    code = run(["eval", "--model", str(tiny_model_dir), "--data", str(synthetic_set), "--out", str(out),
                "--tasks", "ERI", "--limit", "2", "--max-new-tokens", "ERI=8",
                "--judge-url", judge_server, "--judge-model", SERVED, "--judge-max-tokens", "24"])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    judged = metrics["runs"]["full"]["ERI"]["synthetic"]["judge"]
    assert judged["judge_model"] == SERVED and judged["base_url"] == judge_server
    assert judged["temperature"] == 0.0 and judged["seed"] == 0
    # The random model can't grade: the server answers, and every verdict is counted as unparsed
    # (not as a failed request, and never as a score of 0).
    assert (judged["scored"], judged["unparsed"], judged["failed"]) == (0, 2, 0), judged.get("errors")
    assert judged["clue_overlap"] is None and judged["label_overlap"] is None
    assert metrics["judge"]["judge_model"] == SERVED and "prompt" in metrics["judge"]
    report = (out / "report.md").read_text()
    assert f"Judge model `{SERVED}`" in report and metrics["judge"]["prompt"].splitlines()[0] in report
    info = json.loads((out / "run_info.json").read_text())
    assert info["judge"]["judge_model"] == SERVED and info["judge"]["prompt_version"]
    assert "judge_api_key" not in info["command"]
