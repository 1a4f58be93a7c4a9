"""The real `openai` client against a real server on 127.0.0.1 with the tiny model."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from serve_helpers import API_KEY, data_url, metric

QUESTION = "How does the speaker feel?"


def video_message(media_dir, text=QUESTION, name="clip.mp4"):
    return {"role": "user", "content": [
        {"type": "video_url", "video_url": {"url": data_url(media_dir / name, "video/mp4")}},
        {"type": "text", "text": text}]}


def test_models_health_version(client, api_server):
    assert [m.id for m in client.models.list().data] == ["tiny"]
    assert httpx.get(f"{api_server.url}/health").status_code == 200
    assert httpx.get(f"{api_server.url}/version").json()["version"]
    schema = httpx.get(f"{api_server.url}/openapi.json").json()
    assert {"/v1/chat/completions", "/v1/completions", "/tokenize", "/metrics"} <= schema["paths"].keys()


def test_chat_with_video_not_streamed(client, media_dir):
    text_only = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": QUESTION}],
                                               max_tokens=5, temperature=0)
    reply = client.chat.completions.create(model="tiny", messages=[video_message(media_dir)], max_tokens=5,
                                           temperature=0)
    choice = reply.choices[0]
    assert reply.object == "chat.completion" and isinstance(choice.message.content, str)
    assert choice.finish_reason in ("stop", "length")
    assert reply.usage.completion_tokens == 5 or choice.finish_reason == "stop"
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    # the clip's frame, face, audio and fusion tokens are part of the prompt
    assert reply.usage.prompt_tokens > text_only.usage.prompt_tokens + 8


def test_chat_with_video_streamed_matches_not_streamed(client, media_dir):
    kwargs = {"model": "tiny", "messages": [video_message(media_dir)], "max_tokens": 12, "temperature": 1.0,
              "seed": 7}
    whole = client.chat.completions.create(**kwargs)
    chunks = list(client.chat.completions.create(**kwargs, stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    reasoning = "".join(getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in chunks if c.choices)
    assert content == whole.choices[0].message.content
    assert (reasoning or None) == getattr(whole.choices[0].message, "reasoning_content", None)
    finals = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finals == [whole.choices[0].finish_reason]
    assert chunks[-1].choices == [] and chunks[-1].usage.model_dump() == whole.usage.model_dump()


def test_stream_is_sse_ending_in_done(api_server, media_dir):
    body = {"model": "tiny", "messages": [video_message(media_dir)], "max_tokens": 3, "stream": True}
    with httpx.stream("POST", f"{api_server.v1}/chat/completions", json=body, timeout=60,
                      headers={"Authorization": f"Bearer {API_KEY}"}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
    assert json.loads(lines[0][6:])["object"] == "chat.completion.chunk"


def test_audio_parts(client, media_dir):
    wav = (media_dir / "voice.wav").read_bytes()
    import base64

    text_only = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": QUESTION}],
                                               max_tokens=2)
    for part in ({"type": "input_audio", "input_audio": {"data": base64.b64encode(wav).decode(), "format": "wav"}},
                 {"type": "audio_url", "audio_url": {"url": data_url(media_dir / "voice.wav", "audio/wav")}}):
        reply = client.chat.completions.create(
            model="tiny", max_tokens=2, messages=[{"role": "user", "content": [part, {"type": "text", "text": QUESTION}]}])
        assert reply.usage.prompt_tokens > text_only.usage.prompt_tokens  # the audio tokens are in the prompt


def test_multi_turn_reuses_the_clip_and_drops_reasoning(client, api_server, media_dir):
    first = video_message(media_dir, name="silent.mp4")
    client.chat.completions.create(model="tiny", messages=[first], max_tokens=2)
    hits = metric(api_server.engine, "emollm:feature_cache_hits_total")
    misses = metric(api_server.engine, "emollm:feature_cache_misses_total")

    def second_turn(assistant: dict):
        return client.chat.completions.create(model="tiny", max_tokens=2, messages=[
            first, assistant, {"role": "user", "content": "Why do you think so?"}])

    plain = second_turn({"role": "assistant", "content": "You seem calm."})
    with_chain = second_turn({"role": "assistant", "content": "<think>\nSpeaker emotion: calm\n</think>\nYou seem calm.",
                              "reasoning_content": "a long chain of empathy that must not be fed back"})
    assert with_chain.usage.prompt_tokens == plain.usage.prompt_tokens
    # the video (resent with every turn) was decoded and encoded once
    assert metric(api_server.engine, "emollm:feature_cache_hits_total") == hits + 2
    assert metric(api_server.engine, "emollm:feature_cache_misses_total") == misses


def test_guided_choice_top_level_and_extra_body(client, api_server, media_dir):
    labels = ["happy", "sad", "angry", "neutral"]
    reply = client.chat.completions.create(model="tiny", messages=[video_message(media_dir)],
                                           extra_body={"guided_choice": labels})
    assert reply.choices[0].message.content in labels and reply.choices[0].finish_reason == "stop"
    raw = httpx.post(f"{api_server.v1}/chat/completions", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60,
                     json={"model": "tiny", "messages": [video_message(media_dir)], "guided_choice": labels,
                           "n": 3, "temperature": 1.0, "seed": 1})
    assert raw.status_code == 200
    assert all(c["message"]["content"] in labels for c in raw.json()["choices"])


def test_logprobs_n_and_stop(client):
    messages = [{"role": "user", "content": "Tell me how you feel."}]
    reply = client.chat.completions.create(model="tiny", messages=messages, max_tokens=6, n=2, logprobs=True,
                                           top_logprobs=3, temperature=1.0, seed=3)
    assert [c.index for c in reply.choices] == [0, 1]
    for choice in reply.choices:
        entries = choice.logprobs.content
        assert entries and all(e.logprob <= 0 and len(e.top_logprobs) == 3 for e in entries)
        assert all(e.top_logprobs[0].logprob >= e.logprob for e in entries)
    full = client.chat.completions.create(model="tiny", messages=messages, max_tokens=30, temperature=1.0, seed=5)
    text = full.choices[0].message.content
    if len(text) < 6:
        pytest.skip("the random model's reply is too short to cut")
    stop = text[len(text) // 2: len(text) // 2 + 3]
    cut = client.chat.completions.create(model="tiny", messages=messages, max_tokens=30, temperature=1.0, seed=5,
                                         stop=[stop])
    assert cut.choices[0].finish_reason == "stop"
    assert stop not in cut.choices[0].message.content
    assert text.startswith(cut.choices[0].message.content)


def test_completions_and_tokenize(client, api_server):
    reply = client.completions.create(model="tiny", prompt=["Hello", "The speaker"], max_tokens=4, echo=True,
                                      logprobs=2)
    assert [c.index for c in reply.choices] == [0, 1]
    assert reply.choices[0].text.startswith("Hello") and reply.choices[1].text.startswith("The speaker")
    assert len(reply.choices[0].logprobs.tokens) == reply.usage.completion_tokens // 2 or reply.choices[0].finish_reason
    stream = list(client.completions.create(model="tiny", prompt="Hi", max_tokens=3, stream=True))
    assert stream[-1].choices[0].finish_reason in ("stop", "length")
    auth = {"Authorization": f"Bearer {API_KEY}"}
    tokens = httpx.post(f"{api_server.url}/tokenize", json={"prompt": "Hello there"}, headers=auth).json()
    assert tokens["count"] == len(tokens["tokens"]) > 0
    back = httpx.post(f"{api_server.url}/detokenize", json={"tokens": tokens["tokens"]}, headers=auth).json()
    assert back["prompt"] == "Hello there"


def test_concurrent_requests_are_batched(client, api_server):
    engine = api_server.engine
    prompts = [f"Request number {i} " + "and more " * i for i in range(6)]
    solo = [client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": p}], max_tokens=1)
            for p in prompts]
    before = metric(engine, "emollm:batch_size_count"), metric(engine, "emollm:batch_size_sum")
    results = [None] * len(prompts)

    def call(i):
        results[i] = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": prompts[i]}],
                                                    max_tokens=16, temperature=0)

    # a seeded request runs alone and keeps the engine busy while the others queue up behind it
    blocker = threading.Thread(target=lambda: client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "Wait."}], max_tokens=150, seed=1,
        extra_body={"ignore_eos": True}))
    blocker.start()
    deadline = time.monotonic() + 30
    while metric(engine, "emollm:num_requests_running") == 0:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(prompts))]
    for thread in threads:
        thread.start()
    for thread in [*threads, blocker]:
        thread.join(120)
    assert [r.usage.prompt_tokens for r in results] == [s.usage.prompt_tokens for s in solo]  # rows not mixed up
    calls = metric(engine, "emollm:batch_size_count") - before[0] - 1
    rows = metric(engine, "emollm:batch_size_sum") - before[1] - 1
    assert rows == len(prompts) and calls < len(prompts)  # requests shared generate calls


def test_client_going_away_cancels_generation(api_server):
    engine = api_server.engine
    aborted = metric(engine, "emollm:request_success_total", finished_reason="abort")
    body = {"model": "tiny", "messages": [{"role": "user", "content": "Talk for a long time."}], "max_tokens": 800,
            "stream": True, "temperature": 1.0, "ignore_eos": True}
    with httpx.stream("POST", f"{api_server.v1}/chat/completions", json=body, timeout=60,
                      headers={"Authorization": f"Bearer {API_KEY}"}) as response:
        for index, _ in enumerate(response.iter_lines()):
            if index > 4:
                break  # leave mid-stream: the connection closes
    deadline = time.monotonic() + 20
    while metric(engine, "emollm:request_success_total", finished_reason="abort") == aborted:
        assert time.monotonic() < deadline, "the abandoned request kept generating"
        time.sleep(0.1)
    assert httpx.get(f"{api_server.url}/health").status_code == 200


def test_closed_connection_cancels_a_non_streamed_request(api_server):
    engine = api_server.engine
    aborted = metric(engine, "emollm:request_success_total", finished_reason="abort")
    body = {"model": "tiny", "messages": [{"role": "user", "content": "Talk."}], "max_tokens": 800, "ignore_eos": True}
    with pytest.raises(httpx.ReadTimeout):  # the client gives up: its connection closes
        httpx.post(f"{api_server.v1}/chat/completions", json=body, timeout=0.5,
                   headers={"Authorization": f"Bearer {API_KEY}"})
    deadline = time.monotonic() + 20
    while metric(engine, "emollm:request_success_total", finished_reason="abort") == aborted:
        assert time.monotonic() < deadline, "the abandoned request kept generating"
        time.sleep(0.1)


def test_metrics_endpoint(api_server, client):
    client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}], max_tokens=2)
    text = httpx.get(f"{api_server.url}/metrics").text
    for name in ("emollm:num_requests_running", "emollm:prompt_tokens_total", "emollm:generation_tokens_total",
                 "emollm:time_to_first_token_seconds_bucket", "emollm:feature_cache_hits_total"):
        assert name in text
