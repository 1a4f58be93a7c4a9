"""The reinforcement phase's rewards on hand-worked answers (emollm/metrics/rewards.py)."""

import pytest

from emollm.metrics.rewards import answer_reward, chain_reward, copy_reward, length_reward

SUBTITLE = "I apologise for the meeting. I'm really fed up!"
REPLY = "That would frustrate me too. What would help most right now?"


def chain(emotion: str = "angry", reply: str = REPLY) -> str:
    return ("<think>\nEvent scenario: The speaker is apologising for the meeting.\n"
            f"Speaker emotion: {emotion}\nEmotion cause: The meeting went wrong.\n"
            f"Goal of the reply: Help calm things down.\n</think>\n{reply}")


def test_right_emotion_and_a_synonym_both_pay():
    assert answer_reward("ERG", chain("angry"), {"emotion": "angry"}) == 1.0
    assert answer_reward("ERG", chain("furious"), {"emotion": "angry"}) == 1.0  # same wheel group
    assert answer_reward("ERG", chain("irritated"), {"emotion": "angry"}) == 1.0


def test_wrong_emotion_and_a_list_of_emotions_do_not():
    assert answer_reward("ERG", chain("disgusted"), {"emotion": "angry"}) == 0.0
    assert answer_reward("ERG", chain("angry or sad or disgusted"), {"emotion": "angry"}) == 0.0
    assert answer_reward("ERG", chain("not angry"), {"emotion": "angry"}) == 0.0


def test_malformed_chain():
    assert chain_reward("ERG", chain()) == 1.0
    missing_two = "<think>\nEvent scenario: a meeting.\nSpeaker emotion: angry\n</think>\n" + REPLY
    assert chain_reward("ERG", missing_two) == pytest.approx(0.25)  # half credit per field present
    assert chain_reward("ERG", "Speaker emotion: angry. " + REPLY) == 0.0  # no <think> block
    # a chain cut short names no emotion the answer reward can read either
    assert answer_reward("ERG", "<think>\nEvent scenario: a meeting.\nSpeak", {"emotion": "angry"}) == 0.0
    assert chain_reward("MER", "angry") is None


def test_copied_subtitle():
    assert copy_reward("ERG", chain(), SUBTITLE) == 1.0
    assert copy_reward("ERG", chain(reply=SUBTITLE), SUBTITLE) == 0.0
    assert copy_reward("ERG", chain(reply="I apologise for the meeting, really fed up."), SUBTITLE) == 0.0
    assert copy_reward("ERG", chain(), None) is None  # nothing to copy


def test_length_and_format_guard():
    assert length_reward("ERG", chain()) == 1.0
    assert length_reward("ERG", chain(reply="Ok.")) == 0.0  # says nothing
    assert length_reward("ERG", chain(reply=" ".join(["sorry"] * 60))) == 0.0  # padding
    assert length_reward("ERG", chain("angry sad disgusted fearful happy")) == 0.0  # candidates listed
    assert length_reward("MER", "angry") == 1.0
    assert length_reward("MER", "angry sad happy fearful surprised") == 0.0
    assert length_reward("MER", "<think>hmm</think>angry") == 0.0  # only ERG thinks aloud
    assert length_reward("MER", "") == 0.0


def test_checkable_answers_of_the_other_tasks():
    assert answer_reward("MER", "irritated", {"emotion": "angry"}) == 1.0
    assert answer_reward("MER", "sad", {"emotion": "angry"}) == 0.0
    assert answer_reward("MSA", "negative", {"sentiment": "negative"}) == 1.0
    assert answer_reward("MSA", "positive", {"sentiment_score": -1.2}) == 0.0
    assert answer_reward("MIR", "apologising", {"intent": "apologise"}) == 1.0
    assert answer_reward("MIR", "complain", {"intent": "apologise"}) == 0.0
    assert answer_reward("OV-MER", "angry, frustrated", {"emotions": ["angry", "frustrated"]}) == 1.0
    assert answer_reward("OV-MER", "angry, happy", {"emotions": ["angry"]}) == pytest.approx(2 / 3)
    assert answer_reward("ERI", "anything", {"emotion": "angry"}) is None  # nothing checkable


def test_perception_empathy_gap_on_the_same_clips():
    from emollm.metrics.gap import perception_empathy_gap

    mer = {"a": ("angry", "angry"), "b": ("sad", "sad"), "c": ("happy", "happy"), "d": ("sad", "sad")}
    erg = {"a": ("angry", chain("disgusted")), "b": ("sad", chain("unhappy")), "c": ("happy", chain("happy")),
           "x": ("sad", chain("sad"))}  # x has no MER answer: left out
    gap = perception_empathy_gap(mer, erg)
    assert gap["n"] == 3
    assert gap["mer_accuracy"] == 1.0 and gap["erg_emotion_accuracy"] == pytest.approx(0.6667)
    assert gap["gap"] == pytest.approx(0.3333) and gap["mer_right_erg_wrong"] == 1
