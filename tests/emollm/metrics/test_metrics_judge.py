"""The ERI judge client against a real HTTP server on 127.0.0.1 (a stand-in judge model: the judge
is an external service, so a fixed-answer OpenAI-compatible endpoint takes its place here)."""

import socket
import threading
import time

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from data_pipeline.errors import ConfigError
from emollm.metrics import (
    JUDGE_PROMPT_VERSION,
    JudgeConfig,
    MetricsInputError,
    parse_judge_answer,
    score_eri,
    score_task,
)
from emollm.metrics.judge import Judge

# What the stand-in judge answers, keyed by a marker in the graded answer.
VERDICTS = {
    "ANSWER-A": '{"clue": 8, "label": 10}',
    "ANSWER-B": "Clue overlap: 6/10\nLabel overlap: 5",
    "ANSWER-C": "I cannot grade this.",
    "ANSWER-D": '{"clue": 12, "label": 3}',   # out of range -> unparsed, not clipped
}


def judge_app(received: list) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        received.append(body)
        prompt = body["messages"][-1]["content"]
        if "ANSWER-E" in prompt:
            return JSONResponse({"error": {"message": "judge overloaded", "type": "server_error"}}, status_code=500)
        verdict = next((v for k, v in VERDICTS.items() if k in prompt), "??")
        return {"id": "c1", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": verdict}}]}

    return app


@pytest.fixture(scope="module")
def judge_server():
    received: list = []
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(judge_app(received), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "stand-in judge did not start"
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1", received
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def test_eri_with_a_judge(judge_server):
    base_url, received = judge_server
    received.clear()
    answers = ["ANSWER-A: frowning, he is sad", "ANSWER-B: he sounds angry", "ANSWER-C", "ANSWER-D", "ANSWER-E"]
    refs = [{"emotion": "sad", "clues": ["frown", "low voice"]}, {"emotion": "sad", "clues": "tears"},
            {"emotion": "happy"}, {"emotion": "happy"}, {"emotion": "happy"}]
    config = {"base_url": base_url, "model": "stand-in-judge", "max_retries": 0}
    result = score_task("ERI", answers, refs, judge=config)
    judged = result["judge"]
    # scored: A (8, 10) and B (6, 5) -> clue 7.0, label 7.5 ; C, D unparsed ; E failed (HTTP 500)
    assert judged["status"] == "computed" and judged["scored"] == 2
    assert (judged["clue_overlap"], judged["label_overlap"]) == (7.0, 7.5)
    assert judged["unparsed_indices"] == [2, 3] and judged["failed_indices"] == [4]
    assert "InternalServerError" in judged["errors"][0]
    assert judged["judge_model"] == "stand-in-judge" and judged["prompt_version"] == JUDGE_PROMPT_VERSION
    assert "{clues}" in judged["prompt"]
    # the request: fixed decoding, the model's name, the reference filled into the prompt
    first = received[0]
    assert first["temperature"] == 0 and first["seed"] == 0 and first["model"] == "stand-in-judge"
    assert "- frown\n- low voice" in first["messages"][-1]["content"]
    assert "Reference emotion: sad" in first["messages"][-1]["content"]
    # the local label hit is there too: A mentions sad (hit), B angry (miss), others nothing
    assert result["label_hit"] == 0.2 and result["unparsed_indices"] == [2, 3, 4]


def test_eri_without_a_judge_is_not_zero():
    result = score_eri(["He is sad"], [{"emotion": "sadness"}])
    assert result["judge"] == {"status": "not computed (no judge)", "clue_overlap": None, "label_overlap": None}
    assert result["label_hit"] == 1.0


def test_unreachable_judge_is_counted_not_fatal():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens here now
    judge = Judge(JudgeConfig(base_url=f"http://127.0.0.1:{port}/v1", model="m", max_retries=0, timeout=5))
    result = score_eri(["He is sad", "He is happy"], [{"emotion": "sad"}, {"emotion": "sad"}], judge=judge)
    assert result["judge"]["failed"] == 2 and result["judge"]["clue_overlap"] is None
    assert result["judge"]["status"].startswith("failed")
    assert result["label_hit"] == 0.5


@pytest.mark.parametrize("answer, expected", [
    ('{"clue": 7, "label": 9}', (7.0, 9.0)),
    ('Sure! ```json\n{"clue_overlap": 6.5, "label_overlap": 4}\n```', (6.5, 4.0)),
    ("clue: 3, label: 8", (3.0, 8.0)),
    ("Clue score = 10\nLabel score: **0**", (10.0, 0.0)),
    ('{"clue": 7}', None),
    ('{"clue": "seven", "label": 9}', None),
    ("clue: 11, label: 2", None),
    ("", None),
])
def test_parse_judge_answer(answer, expected):
    assert parse_judge_answer(answer) == expected


def test_judge_config_is_validated():
    with pytest.raises(ConfigError, match="base_url must start with http"):
        score_eri(["x"], [{"emotion": "sad"}], judge={"base_url": "localhost:8000", "model": "m"})
    with pytest.raises(ConfigError, match="temperature"):
        score_eri(["x"], [{"emotion": "sad"}], judge={"base_url": "http://h/v1", "model": "m", "temperature": 1})


def test_eri_scores_open_vocabulary_golds_as_ovmerd_gives_them():
    # OV-MERD's ERI records carry the clip's emotion words and the description, no single emotion
    refs = [{"emotions": ["happy", "relieved"], "clues": ["She smiles."]},
            {"emotions": ["angry", "disappointed"], "clues": ["He frowns."]},
            {"emotions": ["qwertyish"], "clues": ["?"]}]
    result = score_eri(["She smiles: she feels relieved", "He looks calm", "Hard to say, maybe sad"], refs)
    assert result["label_hit"] == 0.5 and result["gold_off_wheel_indices"] == [2]
    assert result["judge"]["status"] == "not computed (no judge)"
    with pytest.raises(MetricsInputError, match="reference 0 has neither 'emotion' nor 'emotions'"):
        score_eri(["x"], [{"clues": ["c"]}])
