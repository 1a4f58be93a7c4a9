"""The engine in-process (feature cache, decoding rows), the streaming reasoning split, and the
media fetcher's sources and limits."""

from __future__ import annotations

import http.server
import random
import threading

import numpy as np
import pytest

from data_pipeline.clip import Clip
from emollm.metrics import split_reasoning
from serve.decoding import Delta, Finished, Row, SamplingParams
from serve.engine import Engine, EngineLimits
from serve.errors import APIError
from serve.media_fetch import MediaFetcher, MediaPolicy, parse_limit_mm
from serve.reasoning import ReasoningStream
from serve.request import Done, EngineRequest, Failed, MediaInputs, RequestHandle, Started


def run(engine, request) -> list:
    return list(engine.submit(request).events(timeout=120))


def video_turn(path, text="How does the speaker feel?"):
    return EngineRequest(messages=[{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": text}]}],
                         media=MediaInputs(Clip(video=str(path))), params=SamplingParams(max_tokens=2))


def test_second_turn_about_a_clip_skips_decoding(serve_engine, media_dir, tmp_path):
    from data_pipeline.writer import write_video

    clip = tmp_path / "turns.mp4"  # content no other test has sent (the cache keys on content)
    frames = np.random.default_rng(11).integers(0, 255, (8, 64, 64, 3), dtype=np.uint8)
    write_video(clip, frames, fps=8, audio=np.zeros(16000, dtype=np.float32))
    first = [e for e in run(serve_engine, video_turn(clip)) if isinstance(e, Started)][0]
    second = [e for e in run(serve_engine, video_turn(clip, "And why?")) if isinstance(e, Started)][0]
    assert first.cache_hit is False and first.media is not None and first.media.frames is not None
    assert second.cache_hit is True and second.media is None  # nothing decoded, nothing encoded


def test_feature_cache_can_be_turned_off(tiny_model, media_dir):
    model, processor = tiny_model
    engine = Engine(model, processor, EngineLimits(feature_cache_bytes=0), "no-cache")
    try:
        starts = [[e for e in run(engine, video_turn(media_dir / "clip.mp4")) if isinstance(e, Started)][0]
                  for _ in range(2)]
        assert [s.cache_hit for s in starts] == [False, False]
        assert all(s.media is not None for s in starts)
    finally:
        engine.close()


def test_engine_reports_bad_media_and_carries_on(serve_engine, media_dir):
    request = video_turn(media_dir / "truncated.mp4")
    request.media.params["video"] = "messages[0].content[0]"
    events = run(serve_engine, request)
    assert isinstance(events[-1], Failed) and events[-1].error.status == 400
    assert "messages[0].content[0]" in events[-1].error.message
    events = run(serve_engine, EngineRequest(prompt="Hello", params=SamplingParams(max_tokens=3, ignore_eos=True)))
    assert isinstance(events[-1], Done) and events[-1].completion_tokens == 3
    assert [e.finish_reason for e in events if isinstance(e, Finished)] == ["length"]


def test_stop_strings_are_held_back_and_cut(serve_engine):
    tokenizer = serve_engine.tokenizer
    text = "I am so sorry to hear that. Take care of yourself."
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    events = []
    handle = RequestHandle(EngineRequest(), sink=events.append)
    row = Row(handle, 0, 100, SamplingParams(stop=["hear that"]), tokenizer, serve_engine.eos_ids)
    for token in ids:
        row.step(token, None)
    sent = "".join(e.text for e in events if isinstance(e, Delta))
    assert sent == "I am so sorry to "
    assert [e.finish_reason for e in events if isinstance(e, Finished)] == ["stop"]


def test_reasoning_stream_matches_split_reasoning():
    texts = ["<think>\nEvent scenario: a lost job\nSpeaker emotion: sad\n</think>\nI'm sorry. ",
             "Just a reply  \n", "  <think>never closed", "<think>a</think>", "<thi", "",
             "<think>\n\n</think>\n\nreply here", "<think> a  \n <\n b </think> z  y "]
    rng = random.Random(0)
    for text in texts:
        for _ in range(30):
            stream, reasoning, reply, at = ReasoningStream(), "", "", 0
            while at < len(text):
                step = rng.randint(1, 5)
                r, c = stream.feed(text[at:at + step])
                reasoning, reply, at = reasoning + r, reply + c, at + step
            r, c = stream.finish()
            expected = split_reasoning(text)
            assert (reasoning + r or None, reply + c) == (expected[0] or None, expected[1]), text


def test_parse_limit_mm():
    assert parse_limit_mm("video=1,image=0") == {"video": 1, "image": 0, "audio": 1}
    assert parse_limit_mm('{"audio": 0}') == {"video": 1, "image": 1, "audio": 0}
    for bad in ("video=2", "smell=1", "video"):
        with pytest.raises(ValueError, match="--limit-mm-per-prompt"):
            parse_limit_mm(bad)


@pytest.fixture()
def media_http_server(media_dir):
    """A real HTTP server on 127.0.0.1 serving the test media (for --allow-remote-media);
    `/to/<url>` answers 302 with `Location: <url>`."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(media_dir), **kwargs)

        def do_GET(self):
            if self.path.startswith("/to/"):
                self.send_response(302)
                self.send_header("Location", self.path[len("/to/"):])
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                super().do_GET()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_remote_media_only_when_allowed(media_http_server, tmp_path):
    url = f"{media_http_server}/clip.mp4"
    with pytest.raises(APIError, match="--allow-remote-media") as refused:
        MediaFetcher(MediaPolicy(), tmp_path).fetch(url, "video", "v")
    assert refused.value.status == 403
    fetcher = MediaFetcher(MediaPolicy(allow_remote_media=True, allow_private_media_hosts=True, remote_timeout=5),
                           tmp_path)
    media = fetcher.fetch(url, "video", "v")
    assert media.owned and media.has_video and media.has_audio and media.path.exists()
    fetcher.release(media)
    assert not media.path.exists()
    with pytest.raises(APIError, match="HTTP 404"):
        fetcher.fetch(f"{media_http_server}/missing.mp4", "video", "v")
    small = MediaFetcher(MediaPolicy(allow_remote_media=True, allow_private_media_hosts=True, max_media_bytes=1000),
                         tmp_path)
    with pytest.raises(APIError, match="limit") as too_big:
        small.fetch(url, "video", "v")
    assert too_big.value.status == 413


def test_remote_media_hosts_and_redirects(media_http_server, tmp_path):
    url = f"{media_http_server}/clip.mp4"
    public_only = MediaFetcher(MediaPolicy(allow_remote_media=True), tmp_path)
    with pytest.raises(APIError, match="127.0.0.1 resolves to 127.0.0.1, a private, loopback") as private:
        public_only.fetch(url, "video", "v")
    assert private.value.status == 403 and private.value.code == "media_host_not_allowed"
    with pytest.raises(APIError, match="localhost resolves to .*--allow-private-media-hosts"):
        public_only.fetch(url.replace("127.0.0.1", "localhost"), "video", "v")

    domains = MediaPolicy(allow_remote_media=True, allow_private_media_hosts=True, allowed_media_domains=("127.0.0.1",))
    fetcher = MediaFetcher(domains, tmp_path)
    media = fetcher.fetch(f"{media_http_server}/to/{url}", "video", "v")  # a redirect within the allowed host
    assert media.has_video
    fetcher.release(media)
    elsewhere = url.replace("127.0.0.1", "localhost")  # the same server under a name not in the list
    with pytest.raises(APIError, match="the host localhost is not in --allowed-media-domains") as hop:
        fetcher.fetch(f"{media_http_server}/to/{elsewhere}", "video", "v")
    assert hop.value.status == 403
    loop = f"{media_http_server}/to/{media_http_server}/to/{media_http_server}/to/{url}"
    with pytest.raises(APIError, match="redirected more than 2 times"):
        MediaFetcher(MediaPolicy(allow_remote_media=True, allow_private_media_hosts=True, max_redirects=2),
                     tmp_path).fetch(loop, "video", "v")
    with pytest.raises(APIError, match="not an http"):
        MediaFetcher(domains, tmp_path).fetch(f"{media_http_server}/to/file:///etc/hostname", "video", "v")


def test_media_length_and_stream_checks(media_dir, tmp_path):
    fetcher = MediaFetcher(MediaPolicy(allowed_local_media_path=media_dir, max_media_seconds=1.0), tmp_path)
    with pytest.raises(APIError, match="2.0 s long; the limit is 1 s"):
        fetcher.fetch(f"file://{media_dir / 'clip.mp4'}", "video", "v")
    with pytest.raises(APIError, match="no audio track"):
        MediaFetcher(MediaPolicy(allowed_local_media_path=media_dir), tmp_path).fetch(
            f"file://{media_dir / 'silent.mp4'}", "audio", "a")
