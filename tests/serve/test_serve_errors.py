"""Bad input gets a 4xx `{"error": {message, type, param, code}}` naming the problem, and the
server carries on."""

from __future__ import annotations

import os

import httpx
import openai
import pytest
from serve_helpers import API_KEY, MAX_MEDIA_BYTES, data_url

AUTH = {"Authorization": f"Bearer {API_KEY}"}


def post(server, body=None, content=None, headers=None, path="/chat/completions"):
    headers = {**AUTH, **(headers or {})}
    return httpx.post(f"{server.v1}{path}", json=body, content=content, headers=headers, timeout=60)


def chat(parts, **extra):
    return {"model": "tiny", "max_tokens": 2, "messages": [{"role": "user", "content": parts}], **extra}


def video_part(url):
    return {"type": "video_url", "video_url": {"url": url}}


def assert_error(response, status: int, *words: str):
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    for word in words:
        assert word.lower() in error["message"].lower(), error["message"]
    return error


def test_malformed_json(api_server):
    response = post(api_server, content=b'{"model": "tiny", "messages": [', headers={"Content-Type": "application/json"})
    assert_error(response, 400, "malformed JSON")
    assert_error(post(api_server, content=b"not json at all"), 400, "JSON")


def test_schema_errors_name_the_field(api_server):
    error = assert_error(post(api_server, chat([{"type": "hologram", "hologram": {}}])), 400, "hologram", "video_url")
    assert error["param"] == "messages[0].content"
    assert_error(post(api_server, chat("hi", temperature=7)), 400, "temperature")
    assert_error(post(api_server, {"model": "tiny", "messages": []}), 400, "messages")
    for path in ("/tokenize", "/v1/tokenize"):  # an empty conversation is the client's error, not a 500
        empty = httpx.post(f"{api_server.url}{path}", json={"messages": []}, headers=AUTH, timeout=30)
        assert assert_error(empty, 400, "messages", "at least 1")["param"] == "messages"
    assert_error(post(api_server, {"prompt": [[]]}, path="/completions"), 400, "prompt")
    assert_error(post(api_server, {"prompt": [10**6]}, path="/completions"), 400, "token ids must lie in")
    assert_error(post(api_server, chat([video_part(None)])), 400, "url")


def test_the_schema_states_the_limits(api_server):
    schemas = httpx.get(f"{api_server.url}/openapi.json", timeout=30).json()["components"]["schemas"]
    engine = api_server.engine
    fields = schemas["ChatCompletionRequest"]["properties"]
    assert schemas["ChatCompletionRequest"]["required"] == ["messages"] and fields["messages"]["minItems"] == 1
    assert fields["model"]["anyOf"][0]["enum"] == ["tiny"]
    assert fields["max_tokens"]["anyOf"][0]["maximum"] == engine.max_model_len - 1
    assert fields["n"]["maximum"] == engine.limits.max_batch_size
    assert fields["presence_penalty"]["maximum"] == 0
    assert schemas["TokenizeRequest"]["properties"]["messages"]["anyOf"][0]["minItems"] == 1
    token = schemas["DetokenizeRequest"]["properties"]["tokens"]["items"]
    assert (token["minimum"], token["maximum"]) == (0, len(engine.tokenizer) - 1)
    assert set(schemas["ChatMessage"]["properties"]["role"]["enum"]) >= {"system", "user", "assistant"}


def test_undecodable_base64(api_server):
    error = assert_error(post(api_server, chat([video_part("data:video/mp4;base64,@@not*base64@@")])), 400,
                         "base64")
    assert error["param"] == "messages[0].content[0].video_url"


@pytest.mark.parametrize("name", ["random.mp4", "truncated.mp4", "text.mp4"])
def test_corrupt_video(api_server, media_dir, name):
    error = assert_error(post(api_server, chat([video_part(data_url(media_dir / name, "video/mp4"))])), 400,
                         "messages[0].content[0].video_url", "video")
    assert error["code"] == "invalid_media"


def test_oversized_media(api_server, media_dir):
    big = "data:video/mp4;base64," + "A" * (MAX_MEDIA_BYTES * 2)
    assert_error(post(api_server, chat([video_part(big)])), 413, "MiB", "limit", "--max-media-bytes")


def test_oversized_body(api_server):
    body = chat("x" * (8 * 2**20))  # over the body limit the media caps imply (a few MiB here)
    assert_error(post(api_server, body), 413, "request body is over the limit")


def test_too_many_media(api_server, media_dir):
    clip, silent = data_url(media_dir / "clip.mp4", "video/mp4"), data_url(media_dir / "silent.mp4", "video/mp4")
    assert_error(post(api_server, chat([video_part(clip), video_part(silent)])), 400, "at most 1 video")
    image = {"type": "image_url", "image_url": {"url": data_url(media_dir / "still.png", "image/png")}}
    assert_error(post(api_server, chat([video_part(clip), image])), 400, "one visual input")


def test_local_files_stay_inside_the_allowed_path(api_server, media_dir, tmp_path):
    ok = post(api_server, chat([video_part(f"file://{media_dir / 'clip.mp4'}")]))
    assert ok.status_code == 200, ok.text
    outside = tmp_path / "outside.mp4"
    outside.write_bytes((media_dir / "clip.mp4").read_bytes())
    assert_error(post(api_server, chat([video_part(f"file://{outside}")])), 403, "outside the allowed")
    assert media_dir.parent == tmp_path.parent  # both under pytest's basetemp
    escape = f"file://{media_dir}/../{tmp_path.name}/outside.mp4"
    assert_error(post(api_server, chat([video_part(escape)])), 403, "outside the allowed")
    link = media_dir / f"link-{tmp_path.name}.mp4"
    os.symlink(outside, link)
    try:
        assert_error(post(api_server, chat([video_part(f"file://{link}")])), 403, "outside the allowed")
    finally:
        link.unlink()
    assert_error(post(api_server, chat([video_part(f"file://{media_dir}/missing.mp4")])), 400, "not found")


def test_remote_media_off_by_default(api_server):
    assert_error(post(api_server, chat([video_part("http://127.0.0.1:9/clip.mp4")])), 403, "--allow-remote-media")


def test_api_key(api_server):
    no_key = httpx.post(f"{api_server.v1}/chat/completions", json=chat("hi"), timeout=30)
    assert_error(no_key, 401, "missing API key")
    wrong = openai.OpenAI(base_url=api_server.v1, api_key="not-the-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError, match="wrong API key"):
        wrong.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}])
    assert_error(httpx.get(f"{api_server.v1}/models"), 401, "API key")


def test_other_refusals(client, api_server):
    with pytest.raises(openai.NotFoundError, match="gpt-4"):
        client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError, match="maximum context length"):
        client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}], max_tokens=5000)
    assert_error(post(api_server, chat("look: <|frames|>")), 400, "reserved token")
    assert_error(post(api_server, chat("hi", presence_penalty=1.0)), 400, "presence_penalty")
    assert_error(post(api_server, {"model": "tiny", "messages": [{"role": "tool", "content": "x"}]}), 400, "tool")
    assert_error(httpx.get(f"{api_server.url}/v2/nothing"), 404, "not found")


def test_too_many_concurrent_requests(api_server, client):
    engine = api_server.engine
    limit = engine.limits.max_concurrent_requests
    engine.limits.max_concurrent_requests = 1
    body = chat("Talk for a long time.", max_tokens=400, stream=True, ignore_eos=True)
    try:
        with httpx.stream("POST", f"{api_server.v1}/chat/completions", json=body, headers=AUTH, timeout=60) as busy:
            lines = busy.iter_lines()  # keep the iterator: dropping it closes the stream (and cancels)
            next(lines)  # the first request holds the only slot
            assert_error(post(api_server, chat("hi")), 429, "busy", "--max-concurrent-requests")
            assert "data: [DONE]" in list(lines)  # and the first one finished normally
    finally:
        engine.limits.max_concurrent_requests = limit


def test_server_carries_on(api_server, client, media_dir):
    """Run after the refusals above (file order): health and a real request still work."""
    assert httpx.get(f"{api_server.url}/health").status_code == 200
    reply = client.chat.completions.create(model="tiny", max_tokens=2, messages=[
        {"role": "user", "content": [video_part(data_url(media_dir / "clip.mp4", "video/mp4")),
                                     {"type": "text", "text": "And now?"}]}])
    assert reply.usage.completion_tokens >= 1
