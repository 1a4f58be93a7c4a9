"""Helpers of the vLLM tests (the fixtures are in conftest.py)."""

from __future__ import annotations

import base64

from serve.vllm_plugin.process import VllmServer


def start_vllm(model_dir, log_dir, python, **kwargs) -> VllmServer:
    server = VllmServer(model_dir, log_dir / "vllm.log", python, **kwargs)
    try:
        return server.wait_ready()
    except BaseException:
        server.stop()
        raise


MIME = {".mp4": "video/mp4", ".png": "image/png", ".wav": "audio/wav"}


def media_part(kind: str, path) -> dict:
    """An OpenAI content part carrying the file inline, as both servers take it."""
    data = base64.b64encode(path.read_bytes()).decode()
    if kind == "audio":
        return {"type": "input_audio", "input_audio": {"data": data, "format": path.suffix.lstrip(".")}}
    key = {"video": "video_url", "image": "image_url"}[kind]
    return {"type": key, key: {"url": f"data:{MIME[path.suffix]};base64,{data}"}}
