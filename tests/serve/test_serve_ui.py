"""The Gradio chat on /ui, driven by `gradio_client` (multi-turn, the gallery, errors, the login
that the API key adds), and the stop path and history handling in-process."""

from __future__ import annotations

import time

import pytest
from gradio_client import Client, handle_file
from serve_helpers import API_KEY, metric

from serve.media_fetch import MediaPolicy
from serve.ui import CHAIN_TITLE, ChatUI, _history_turns


@pytest.fixture(scope="module")
def ui_client(api_server):
    return Client(f"{api_server.url}/ui/", auth=("anyone", API_KEY), verbose=False)


def test_login_required_with_an_api_key(api_server):
    with pytest.raises(Exception):  # noqa: B017 - gradio_client raises a plain error for a refused login
        Client(f"{api_server.url}/ui/", auth=("anyone", "wrong"), verbose=False)


def test_multi_turn_video_chat(ui_client, api_server, chat_examples):
    engine = api_server.engine
    message, task, _ = chat_examples[0]
    assert message["files"][0].endswith(".mp4")  # an offline example from the synthetic set
    job = ui_client.submit({"text": message["text"], "files": [handle_file(message["files"][0])]}, task, None,
                           api_name="/chat")
    messages, _ = job.result(timeout=120)
    outputs = job.outputs()
    gallery = outputs[0][1]
    assert len(gallery) == 2 * engine.processor.num_frames  # the frames, then the face crops the model saw
    assert [caption for _, caption in gallery][:2] == ["frame 1", "frame 2"]
    assert [caption for _, caption in gallery][-1] == f"face {engine.processor.num_frames}"
    assert messages and messages[-1]["role"] == "assistant" and isinstance(messages[-1]["content"], str)
    hits = metric(engine, "emollm:feature_cache_hits_total")
    messages, _ = ui_client.predict({"text": "Why do you think so?", "files": []}, "Reason about the emotion", None,
                                    api_name="/chat")
    assert messages[-1]["role"] == "assistant"
    assert metric(engine, "emollm:feature_cache_hits_total") == hits + 1  # the second turn reused the clip


def test_bad_upload_is_reported(ui_client, media_dir):
    with pytest.raises(Exception, match="truncated.mp4"):
        ui_client.predict({"text": "hi", "files": [handle_file(str(media_dir / "truncated.mp4"))]},
                          "Free chat", None, api_name="/chat")


def test_stop_button_cancels_generation(serve_engine, media_dir):
    ui = ChatUI(serve_engine, policy=MediaPolicy(allowed_local_media_path=media_dir), max_tokens=800)
    ui.params.ignore_eos = True
    aborted = metric(serve_engine, "emollm:request_success_total", finished_reason="abort")
    replies = ui.respond({"text": "Talk to me.", "files": [str(media_dir / "voice.wav")]}, [], "Free chat", None)
    next(replies)
    next(replies)
    replies.close()  # what Gradio does when the stop button cancels the event
    deadline = time.monotonic() + 20
    while metric(serve_engine, "emollm:request_success_total", finished_reason="abort") == aborted:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_chain_of_empathy_is_not_fed_back(serve_engine, media_dir):
    history = [
        {"role": "user", "content": [{"path": str(media_dir / "clip.mp4")}, "How do I look?"]},
        {"role": "assistant", "content": "Speaker emotion: sad ...", "metadata": {"title": CHAIN_TITLE}},
        {"role": "assistant", "content": "You look a little down.", "metadata": {}},
    ]
    turns = _history_turns(history)
    assert [(role, text) for role, text, _ in turns] == [("user", "How do I look?"),
                                                         ("assistant", "You look a little down.")]
    browser_shaped = [  # what Gradio's Chatbot hands back after a round trip through the page
        {"role": "user", "metadata": None, "content": [
            {"type": "file", "file": {"path": str(media_dir / "clip.mp4")}, "alt_text": None},
            {"type": "text", "text": "How do I look?"}]},
        {"role": "assistant", "metadata": {"title": CHAIN_TITLE}, "content": [{"type": "text", "text": "sad"}]},
        {"role": "assistant", "metadata": None, "content": [{"type": "text", "text": "You look a little down."}]},
    ]
    assert _history_turns(browser_shaped) == turns
    ui = ChatUI(serve_engine, policy=MediaPolicy(allowed_local_media_path=media_dir))
    messages, media = ui._conversation(turns + [("user", "Why?", [])])
    assert media.clip.video == str((media_dir / "clip.mp4").resolve())
    assert messages[0]["content"][0] == {"type": "video"} and messages[1]["content"] == "You look a little down."
    assert all("Speaker emotion" not in str(m["content"]) for m in messages)
