"""The single entry point: dispatch by task name, subtitle copying, JSON-serialisable reports."""

import json

import pytest

from emollm.metrics import SCORERS, MetricsInputError, score_task

ERG_ANSWER = ("<think>\nEvent scenario: a delay\nSpeaker emotion: angry\nEmotion cause: the train\n"
              "Goal of the reply: calm things down\n</think>\nThe train is late again today")

CASES = {
    "MER": (["happy"], [{"emotion": "happy"}]),
    "MSA": (["positive"], [{"sentiment": "positive"}]),
    "OV-MER": (["happy, excited"], [{"emotions": ["happy", "excited"]}]),
    "ERI": (["He smiles, so he is happy"], [{"emotion": "happy", "clues": ["smile"]}]),
    "MIR": (["thank"], [{"intent": "thank"}]),
    "ERG": ([ERG_ANSWER], [{"emotion": "angry", "reply": "Sorry to hear that."}]),
}


def test_registry_has_the_six_tasks():
    assert set(SCORERS) == set(CASES)


@pytest.mark.parametrize("task", list(CASES))
def test_every_task_scores_and_serialises(task):
    predictions, references = CASES[task]
    result = score_task(task.lower().replace("-", "_"), predictions, references, subtitles=["unrelated words"])
    assert result["task"] == task and result["n"] == 1
    assert result["wheel"]["version"] == "1.0"
    assert result["subtitle_copy"]["rate"] == 0.0
    assert json.loads(json.dumps(result)) == result
    headline = {"MER": "accuracy", "MSA": "accuracy", "OV-MER": "f1", "ERI": "label_hit", "MIR": "accuracy",
                "ERG": "emotion_accuracy"}[task]
    assert result[headline] == 1.0


def test_subtitle_copy_reads_the_reply_not_the_chain():
    result = score_task("ERG", [ERG_ANSWER], [{"emotion": "angry", "reply": "Oh no."}],
                        subtitles=["The train is late again today!"])
    assert result["subtitle_copy"]["copied_indices"] == [0]


def test_bad_calls_name_the_problem():
    with pytest.raises(MetricsInputError, match="unknown task 'FER'; known tasks: MER"):
        score_task("FER", [], [])
    with pytest.raises(MetricsInputError, match="MIR: 1 predictions but 0 references"):
        score_task("MIR", ["thank"], [])
    with pytest.raises(MetricsInputError, match="MER: reference 0 has no 'emotion'"):
        score_task("MER", ["happy"], ["happy"])
    with pytest.raises(MetricsInputError, match="not found"):
        score_task("MER", ["happy"], [{"emotion": "happy"}], wheel="/no/such/wheel.json")


def test_empty_inputs_give_none_not_zero():
    for task in CASES:
        result = score_task(task, [], [])
        assert result["n"] == 0
        values = [v for k, v in result.items() if k in {"accuracy", "f1", "label_hit", "emotion_accuracy"}]
        assert values and all(v is None for v in values), (task, result)
