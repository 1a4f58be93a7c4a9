"""`emollm serve --model DIR` as a user runs it (a subprocess through the console script) answers
the `openai` client with a video, streamed and not, and serves the chat on /ui."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest
from serve_helpers import data_url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def emollm_command() -> list[str]:
    script = Path(sys.executable).with_name("emollm")
    return [str(script)] if script.exists() else [shutil.which("emollm") or "emollm"]


def test_emollm_serve_answers_the_openai_client(tiny_model_dir, media_dir, tmp_path):
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [*emollm_command(), "serve", "--model", str(tiny_model_dir), "--port", str(port), "--served-model-name",
         "emollm-tiny", "--api-key", "cli-key", "--examples-dir", str(tmp_path / "examples"),
         "--allowed-local-media-path", str(media_dir)],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "emollm serve did not come up"
            time.sleep(0.3)
        client = openai.OpenAI(base_url=f"{base}/v1", api_key="cli-key", max_retries=0, timeout=60)
        messages = [{"role": "user", "content": [
            {"type": "video_url", "video_url": {"url": data_url(media_dir / "clip.mp4", "video/mp4")}},
            {"type": "text", "text": "How does the speaker feel?"}]}]
        reply = client.chat.completions.create(model="emollm-tiny", messages=messages, max_tokens=4)
        assert reply.model == "emollm-tiny" and reply.usage.prompt_tokens > 20
        chunks = list(client.chat.completions.create(model="emollm-tiny", messages=messages, max_tokens=4,
                                                     stream=True))
        assert chunks[-1].choices[0].finish_reason in ("stop", "length")
        local = [{"role": "user", "content": [
            {"type": "video_url", "video_url": {"url": f"file://{media_dir / 'silent.mp4'}"}}]}]
        assert client.chat.completions.create(model="emollm-tiny", messages=local, max_tokens=2).choices
        assert httpx.post(f"{base}/tokenize", json={"messages": messages}, timeout=30).status_code == 401
        assert httpx.get(f"{base}/ui/", timeout=30).status_code == 200  # the chat, behind a login (the key)
        login = {"username": "me", "password": "wrong"}
        assert httpx.post(f"{base}/ui/login", data=login, timeout=30).status_code == 400
        login["password"] = "cli-key"
        assert httpx.post(f"{base}/ui/login", data=login, timeout=30).status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def test_remote_media_flags(tiny_model_dir):
    from data_pipeline.errors import UserFacingError
    from emollm.cli import build_parser, run
    from serve.cli import _policy

    with pytest.raises(UserFacingError, match="--allowed-media-domains needs --allow-remote-media"):
        run(["serve", "--model", str(tiny_model_dir), "--allowed-media-domains", "media.example.org"])
    args = build_parser().parse_args(["serve", "--model", str(tiny_model_dir), "--allow-remote-media",
                                      "--allowed-media-domains", "Media.Example.org", "cdn.example.org"])
    policy = _policy(args)
    assert policy.allowed_media_domains == ("media.example.org", "cdn.example.org")
    assert policy.allow_remote_media and not policy.allow_private_media_hosts
    assert _policy(build_parser().parse_args(["serve", "--model", str(tiny_model_dir), "--allow-remote-media",
                                              "--allow-private-media-hosts"])).allow_private_media_hosts
