"""The project's own code in the vLLM environment (transformers and fastapi pinned below
constraints.txt there): EmoLLM's model and processor load and generate from a clip, the plugin
registers (twice, idempotently) its architecture, reasoning parser and video loader, and the
parser splits the chain of empathy exactly as `emollm serve` does (computed here, in the project
environment, by `split_reasoning`)."""

from __future__ import annotations

import json
import subprocess

from emollm.metrics import split_reasoning

TEXTS = ["<think>Event: a lost job. Emotion: sadness.</think>\n\nThat sounds really hard.",
         "plain reply, no chain", "  <think>a chain that never closes", "<think></think>only a reply"]

SCRIPT = r"""
import json, sys
import transformers
from emollm import EmoLLMForConditionalGeneration, EmoLLMProcessor
model_dir, clip, texts = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
model = EmoLLMForConditionalGeneration.from_pretrained(model_dir).eval()
processor = EmoLLMProcessor.from_pretrained(model_dir)
media = processor.load_media(video=clip)
messages = [[{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "How do they feel?"}]}]]
batch = processor(messages, [media], add_generation_prompt=True)
new = model.generate(**batch, max_new_tokens=4, do_sample=False, min_new_tokens=4)

import serve.vllm_plugin as plugin
plugin.register()
plugin.register()
from vllm import ModelRegistry
from vllm.multimodal.video import VIDEO_LOADER_REGISTRY
from vllm.reasoning import ReasoningParserManager
parser = ReasoningParserManager.get_reasoning_parser("emollm")(transformers.AutoTokenizer.from_pretrained(model_dir))
whole, streamed = [], []
for text in texts:
    whole.append(parser.extract_reasoning(text, None))
    reasoning = content = ""
    for end in range(0, len(text) + 3, 3):  # deltas of 3 characters
        delta = parser.extract_reasoning_streaming(text[:max(end - 3, 0)], text[:end], text[max(end - 3, 0):end],
                                                   [], [], [])
        if delta is not None:
            reasoning, content = reasoning + (delta.reasoning or ""), content + (delta.content or "")
    streamed.append([reasoning or None, content])
print(json.dumps({"transformers": transformers.__version__, "new_tokens": list(new.shape), "faces": list(media.faces.shape),
                  "audio": int(media.waveform.size), "archs": list(ModelRegistry.get_supported_archs()).count(
                      "EmoLLMForConditionalGeneration"),
                  "loader": "emollm" in VIDEO_LOADER_REGISTRY.name2class, "whole": whole, "streamed": streamed}))
"""


def test_project_code_runs_in_the_vllm_environment(vllm_env, tiny_model_dir, media_dir):
    done = subprocess.run([str(vllm_env), "-c", SCRIPT, str(tiny_model_dir), str(media_dir / "clip.mp4"),
                           json.dumps(TEXTS)], capture_output=True, text=True, timeout=600,
                          env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    major, minor = (int(x) for x in result["transformers"].split(".")[:2])
    assert (major, minor) < (5, 20)  # vLLM's pin, older than constraints.txt's: the point of this test
    assert result["new_tokens"] == [1, 4]
    assert result["faces"][0] == 8 and result["audio"] > 16000  # the face step ran; the clip's 2 s of sound
    assert result["archs"] == 1 and result["loader"]
    expected = [list(split_reasoning(text)) for text in TEXTS]
    assert result["whole"] == expected
    assert result["streamed"] == [[r or None, c] for r, c in expected]  # an empty chain streams no delta
