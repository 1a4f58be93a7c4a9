"""Serving fixtures: one engine on the tiny model, and real uvicorn servers on 127.0.0.1 —
`api_server` (API with an API key, allowed local media path, a small media cap, the chat on /ui
behind a login) and `open_server` (no key, the chat on /ui, for the browser)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from serve_helpers import API_KEY, MAX_MEDIA_BYTES


@dataclass
class Server:
    url: str
    engine: object
    ui: object

    @property
    def v1(self) -> str:
        return f"{self.url}/v1"


@pytest.fixture(scope="session")
def serve_engine(tiny_model):
    from serve.engine import Engine, EngineLimits

    model, processor = tiny_model
    engine = Engine(model, processor, EngineLimits(max_batch_size=8, max_concurrent_requests=32), "tiny")
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def chat_examples(tmp_path_factory):
    from serve.ui import synthetic_examples

    return synthetic_examples(tmp_path_factory.mktemp("chat_examples"), count=2)


def _start(engine, media_dir, examples, api_key):
    from serve.api import APISettings, create_app
    from serve.media_fetch import MediaPolicy
    from serve.server import start_in_thread
    from serve.ui import ChatUI, mount_ui

    policy = MediaPolicy(allowed_local_media_path=media_dir, max_media_bytes=MAX_MEDIA_BYTES)
    settings = APISettings(served_model_names=["tiny"], api_key=api_key, media=policy)
    app = create_app(engine, settings)
    examples_dir = os.path.commonpath([p[0]["files"][0] for p in examples])
    ui = ChatUI(engine, api_key=api_key, policy=policy, examples=examples, examples_dir=examples_dir, max_tokens=24)
    mount_ui(app, ui, allowed_paths=[examples_dir])
    return start_in_thread(app), ui


@pytest.fixture(scope="session")
def api_server(serve_engine, media_dir, chat_examples):
    running, ui = _start(serve_engine, media_dir, chat_examples, API_KEY)
    yield Server(running.url, serve_engine, ui)
    running.stop()


@pytest.fixture(scope="session")
def open_server(serve_engine, media_dir, chat_examples):
    running, ui = _start(serve_engine, media_dir, chat_examples, None)
    yield Server(running.url, serve_engine, ui)
    running.stop()


@pytest.fixture()
def client(api_server):
    import openai

    return openai.OpenAI(base_url=api_server.v1, api_key=API_KEY, max_retries=0, timeout=120)
