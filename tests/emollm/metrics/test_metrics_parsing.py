"""Free-text answers -> labels, for every parser, with the edge cases (negation, numbers, junk)."""

import pytest

from emollm.metrics import load_wheel, parse_emotion, parse_emotion_set, parse_intent, parse_sentiment


@pytest.fixture(scope="module")
def wheel():
    return load_wheel()


@pytest.mark.parametrize("answer, expected", [
    ("Happy", "happy"),
    ("happy.", "happy"),
    ("JOY", "happy"),
    ("The speaker is clearly furious.", "angry"),
    ("She looks worried about the exam", "fearful"),        # fine group anxious -> fearful
    ("I think he is not angry but worried.", "fearful"),    # "not" stops at "but"
    ("No, he is angry.", "angry"),                          # punctuation closes the negation
    ("He doesn't seem happy; he is sad", "sad"),             # n't negates "happy"
    ("neither happy nor sad, rather surprised", "surprised"),
    ("happily surprised", "happy"),                          # first mention wins
    ("She feels lonely", "sad"),
    ("calm", "neutral"),
    ("None", "neutral"),
    ("Disgust", "disgusted"),
    ("", None),
    ("The video shows a man at a table.", None),            # no emotion word at all
    ("The woman made a cake", None),                         # "made" is not "mad"
    ("他很开心", None),                                       # Chinese: out of scope, no crash
    ("contempt", "disgusted"),
])
def test_parse_emotion(wheel, answer, expected):
    assert parse_emotion(answer, wheel) == expected


@pytest.mark.parametrize("answer, expected", [
    ("positive", "positive"),
    ("Negative.", "negative"),
    ("neutral", "neutral"),
    ("The sentiment is neither positive nor negative.", "neutral"),
    ("not positive, rather negative", "negative"),
    ("-1.8", "negative"),               # CMU-MOSI score: sign decides
    ("score: +2.4", "positive"),
    ("0", "neutral"),
    ("0.0", "neutral"),
    ("\u22120.6", "negative"),          # unicode minus
    ("The speaker sounds happy", "positive"),    # no polarity word or number: emotion valence
    ("He is frustrated", "negative"),
    ("He is shocked", None),            # shocked has no valence in the wheel
    ("???", None),
    ("积极", None),
])
def test_parse_sentiment(wheel, answer, expected):
    assert parse_sentiment(answer, wheel) == expected


@pytest.mark.parametrize("answer, expected", [
    ("apologise", "apologise"),
    ("Apologize", "apologise"),
    ("The speaker is apologizing for being late.", "apologise"),
    ("ask for help", "ask for help"),
    ("She is asking for help with the report", "ask for help"),
    ("Thanks!", "thank"),
    ("greeting", "greet"),
    ("criticise", "criticize"),
    ("complain", "complain"),
    ("dance", None),
    ("", None),
])
def test_parse_intent(answer, expected):
    assert parse_intent(answer) == expected


@pytest.mark.parametrize("answer, expected", [
    ("happy, joyful, anxious", ["happy", "anxious"]),       # joyful shares happy's group
    ("Worried; nervous and tense", ["anxious", "nervous"]),  # tense is in anxious' group
    ("slightly anxious, very happy", ["anxious", "happy"]),  # a wheel word inside a phrase
    ("grumbly, happy", ["grumbly", "happy"]),                 # unknown word keeps its own group
    ("", []),
    (" , ,", []),
])
def test_parse_emotion_set(wheel, answer, expected):
    assert parse_emotion_set(answer, wheel) == expected
