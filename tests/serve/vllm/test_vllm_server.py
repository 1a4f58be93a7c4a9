"""A real vLLM OpenAI server with the EmoLLM plugin, driven by the real `openai` client: video with
its sound, a silent video, an image, an audio clip, streamed and not; the prompt-token counts equal
`emollm serve`'s for the same request (the same placeholder expansion); bad media get a 4xx and
the server goes on."""

from __future__ import annotations

import openai
import pytest
from vllm_helpers import media_part

QUESTION = "What emotion does this clip show?"
CASES = [("video", "clip.mp4"), ("video", "silent.mp4"), ("image", "still.png"), ("audio", "voice.wav")]


def ask(client, model: str, parts: list[dict], **kwargs):
    messages = [{"role": "user", "content": [*parts, {"type": "text", "text": QUESTION}]}]
    return client.chat.completions.create(model=model, messages=messages, temperature=0, **kwargs)


def test_served_under_the_folder_name(vllm_client, tiny_model_dir):
    assert [m.id for m in vllm_client.models.list().data] == [tiny_model_dir.name]


@pytest.mark.parametrize(("kind", "name"), CASES)
def test_media_prompt_tokens_match_emollm_serve(vllm_client, client, tiny_model_dir, media_dir, kind, name):
    part = media_part(kind, media_dir / name)
    ours = ask(client, "tiny", [part], max_tokens=4)
    theirs = ask(vllm_client, tiny_model_dir.name, [part], max_tokens=4)
    text_only = ask(vllm_client, tiny_model_dir.name, [], max_tokens=1)
    assert theirs.usage.prompt_tokens == ours.usage.prompt_tokens
    assert theirs.usage.prompt_tokens > text_only.usage.prompt_tokens  # the media's placeholders are in
    assert theirs.choices[0].finish_reason in ("stop", "length")


@pytest.mark.parametrize(("kind", "name"), [("video", "clip.mp4"), ("audio", "voice.wav")])
def test_streamed_equals_not_streamed(vllm_client, client, tiny_model_dir, media_dir, kind, name):
    part = media_part(kind, media_dir / name)
    whole = ask(vllm_client, tiny_model_dir.name, [part], max_tokens=8)
    chunks = list(ask(vllm_client, tiny_model_dir.name, [part], max_tokens=8, stream=True,
                      stream_options={"include_usage": True}))
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    reasoning = "".join(getattr(c.choices[0].delta, "reasoning", None) or "" for c in chunks if c.choices)
    assert content == (whole.choices[0].message.content or "")
    assert (reasoning or None) == getattr(whole.choices[0].message, "reasoning", None)
    assert chunks[-1].usage.prompt_tokens == whole.usage.prompt_tokens == ask(
        client, "tiny", [part], max_tokens=1).usage.prompt_tokens


BAD = {
    "text as video": lambda media: media_part("video", media / "text.mp4"),
    "random bytes as video": lambda media: media_part("video", media / "random.mp4"),
    "bad base64 video": lambda media: {"type": "video_url", "video_url": {"url": "data:video/mp4;base64,@@not*base64"}},
    "bad base64 audio": lambda media: {"type": "input_audio", "input_audio": {"data": "@@not*base64", "format": "wav"}},
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_media_gets_4xx_and_the_next_request_succeeds(vllm_client, tiny_model_dir, media_dir, case):
    with pytest.raises(openai.APIStatusError) as error:
        ask(vllm_client, tiny_model_dir.name, [BAD[case](media_dir)], max_tokens=2)
    assert 400 <= error.value.status_code < 500, error.value
    good = ask(vllm_client, tiny_model_dir.name, [media_part("video", media_dir / "clip.mp4")], max_tokens=2)
    assert good.usage.completion_tokens >= 1


def test_an_image_and_a_separate_audio_are_encoded_apart(vllm_client, client, tiny_model_dir, media_dir):
    """The documented difference: `emollm serve` pairs an image with a separate audio into one clip and
    adds its fusion token; vLLM encodes the two items apart (each item's embedding is computed alone)."""
    parts = [media_part("image", media_dir / "still.png"), media_part("audio", media_dir / "voice.wav")]
    ours = ask(client, "tiny", parts, max_tokens=2)
    theirs = ask(vllm_client, tiny_model_dir.name, parts, max_tokens=2)
    fusion_tokens = 1  # the tiny preset's adapters.fusion.num_tokens
    assert theirs.usage.prompt_tokens == ours.usage.prompt_tokens - fusion_tokens
