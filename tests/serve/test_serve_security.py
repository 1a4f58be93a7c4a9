"""The serving attack surface, as an attacker would try it: a crafted Gradio request naming a
server path (open server, and a keyed server after logging in), anonymous requests to every
media route of a keyed server, and the chat's own upload folder."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import httpx
import pytest
from serve_helpers import API_KEY, data_url

from serve.ui import upload_folder


def file_data(path) -> dict:
    # Gradio's wire format for a file (gradio_client.utils.is_file_obj_with_meta: a dict with a path
    # and meta._type == "gradio.FileData"), what a browser sends after an upload.
    return {"path": str(path), "meta": {"_type": "gradio.FileData"}}


def call_chat(client: httpx.Client, base: str, data: list) -> tuple[int, str, str]:
    """Gradio's HTTP API (`POST /gradio_api/call/<api_name>`, then the SSE result at
    `GET .../<event_id>`, as documented on the app's "Use via API" page): status, last event, data."""
    started = client.post(f"{base}/ui/gradio_api/call/chat", json={"data": data}, timeout=60)
    if started.status_code != 200:
        return started.status_code, "", started.text
    event_id = started.json()["event_id"]
    event, payload = "", ""
    with client.stream("GET", f"{base}/ui/gradio_api/call/chat/{event_id}", timeout=120) as stream:
        for line in stream.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                payload = line.split(":", 1)[1].strip()
                if event in ("complete", "error"):
                    break
    return 200, event, payload


@pytest.fixture()
def outside_clip(media_dir, tmp_path):
    """A real clip in a folder that is neither the allowed media path, the uploads nor the examples."""
    path = tmp_path / "private" / "meeting.mp4"
    path.parent.mkdir()
    shutil.copy(media_dir / "clip.mp4", path)
    return path


def uploads_named(name: str) -> list[str]:
    return [f for _, _, files in os.walk(upload_folder()) for f in files if f == name]


def test_crafted_chat_request_is_refused_on_an_open_server(open_server, outside_clip):
    with httpx.Client() as client:
        status, event, payload = call_chat(client, open_server.url, [
            {"text": "What is in it?", "files": [file_data(outside_clip)]}, "Free chat", None])
    assert (status, event) == (200, "error"), payload
    assert "meeting.mp4" in payload and "outside the allowed media folders" in payload
    assert uploads_named("meeting.mp4") == []  # refused before Gradio copied it into the upload folder


def test_crafted_webcam_value_is_refused(open_server, outside_clip):
    with httpx.Client() as client:  # the chat's API takes (message, task, webcam video)
        status, event, payload = call_chat(client, open_server.url, [
            {"text": "hi", "files": []}, "Free chat", file_data(outside_clip)])
    assert (status, event) == (200, "error"), payload
    assert "outside the allowed media folders" in payload


def test_history_paths_pass_the_policy(open_server, outside_clip):
    import gradio as gr

    from serve.ui import _history_turns

    turns = _history_turns([{"role": "user", "content": [{"path": str(outside_clip)}, "Look"]}])
    with pytest.raises(gr.Error, match="outside the allowed media folders"):
        open_server.ui._conversation(turns + [("user", "And now?", [])])


def test_keyed_chat_needs_login_and_still_refuses_server_paths(api_server, outside_clip, chat_examples):
    message = {"text": "What is in it?", "files": [file_data(outside_clip)]}
    with httpx.Client() as anonymous:
        status, _, payload = call_chat(anonymous, api_server.url, [message, "Free chat", None])
        assert status == 401, payload
        assert anonymous.get(f"{api_server.url}/ui/gradio_api/info", timeout=30).status_code == 401
    with httpx.Client() as user:
        login = user.post(f"{api_server.url}/ui/login", data={"username": "anyone", "password": API_KEY}, timeout=30)
        assert login.status_code == 200, login.text
        status, event, payload = call_chat(user, api_server.url, [message, "Free chat", None])
        assert (status, event) == (200, "error"), payload
        assert "outside the allowed media folders" in payload
        example = chat_examples[0][0]["files"][0]  # an example clip is allowed, named by its path
        status, event, payload = call_chat(user, api_server.url, [
            {"text": "Hi", "files": [file_data(example)]}, "Free chat", None])
        assert (status, event) == (200, "complete"), payload
        assert json.loads(payload)[0][-1]["role"] == "assistant"


def test_every_media_route_needs_the_key(api_server, media_dir):
    video = {"type": "video_url", "video_url": {"url": data_url(media_dir / "clip.mp4", "video/mp4")}}
    messages = [{"role": "user", "content": [video, {"type": "text", "text": "hi"}]}]
    routes = {"/tokenize": {"messages": messages}, "/v1/tokenize": {"messages": messages},
              "/detokenize": {"tokens": [1, 2]}, "/v1/detokenize": {"tokens": [1, 2]},
              "/v1/chat/completions": {"messages": messages, "max_tokens": 2},
              "/v1/completions": {"prompt": "hi", "max_tokens": 2}}
    for route, body in routes.items():
        response = httpx.post(f"{api_server.url}{route}", json=body, timeout=60)
        assert response.status_code == 401, (route, response.text)
        assert "API key" in response.json()["error"]["message"]
    keyed = httpx.post(f"{api_server.url}/tokenize", json={"messages": messages}, timeout=60,
                       headers={"Authorization": f"Bearer {API_KEY}"})
    assert keyed.status_code == 200, keyed.text
    for route in ("/health", "/version"):
        assert httpx.get(f"{api_server.url}{route}", timeout=30).status_code == 200


def test_the_chat_has_its_own_upload_folder(api_server):
    folder = upload_folder()
    assert os.environ["GRADIO_TEMP_DIR"] == folder and os.path.basename(folder).startswith("emollm-chat-uploads-")
    assert Path(folder).resolve() in api_server.ui.policy.extra_local_roots
    assert api_server.ui.policy.allowed_local_media_path not in (None, Path(folder).resolve())
