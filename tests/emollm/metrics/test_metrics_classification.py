"""MER, MSA and MIR scores on hand-worked examples (expected values computed in the comments)."""

import json

import pytest

from emollm.metrics import MetricsInputError, classification_scores, score_mer, score_mir, score_msa

MER_ANSWERS = [
    "Happy",                                     # -> happy
    "joyful",                                    # -> happy
    "I feel sad",                                # -> sad
    "He is not angry, he is sad",                # -> sad ("angry" negated)
    "???",                                       # -> unparsed
    "She looks happy, maybe a little surprised", # -> happy (first mention), mentions surprised
    "scared",                                    # -> fearful (group "fearful")
]
MER_GOLDS = ["happy", "happy", "sad", "angry", "neutral", "surprise", "worried"]
# gold basic: happy happy sad angry neutral surprised fearful (worried -> group anxious -> fearful)


def test_mer_hand_worked():
    result = score_mer(MER_ANSWERS, [{"emotion": e} for e in MER_GOLDS])
    # correct: 0, 1, 2, 6 -> accuracy 4/7
    assert result["accuracy"] == pytest.approx(0.5714)
    assert result["war"] == result["accuracy"]
    # per class (gold support): happy(2) P=2/3 R=1 F=0.8 | sad(1) P=1/2 R=1 F=2/3 | fearful(1) F=1
    # angry(1), neutral(1), surprised(1): F=0, R=0
    # WAF = (2*0.8 + 2/3 + 1) / 7 = 0.4667 ; UAR = (1 + 1 + 1 + 0 + 0 + 0) / 6 = 0.5
    # macro F1 = (0.8 + 2/3 + 1) / 6 = 0.4111
    assert result["waf"] == pytest.approx(0.4667)
    assert result["uar"] == pytest.approx(0.5)
    assert result["macro_f1"] == pytest.approx(0.4111)
    assert result["unparsed"] == 1 and result["unparsed_indices"] == [4]
    # hit rate (basic level): hits at 0, 1, 2, 5 (surprised mentioned), 6 -> 5/7
    assert result["hit_rate"] == pytest.approx(0.7143)
    # group level: 6 misses (scared is in "fearful", worried in "anxious") -> 4/7
    assert result["hit_rate_group"] == pytest.approx(0.5714)
    labels = result["confusion"]["labels"]
    assert labels == ["neutral", "happy", "sad", "angry", "surprised", "fearful", "disgusted", "unparsed"]
    matrix = {(labels[r], labels[c]): v for r, row in enumerate(result["confusion"]["matrix"])
              for c, v in enumerate(row) if v}
    assert matrix == {("neutral", "unparsed"): 1, ("happy", "happy"): 2, ("sad", "sad"): 1,
                      ("angry", "sad"): 1, ("surprised", "happy"): 1, ("fearful", "fearful"): 1}
    json.dumps(result)


def test_mer_edge_cases():
    empty = score_mer([], [])
    assert empty["n"] == 0 and empty["accuracy"] is None and empty["hit_rate"] is None
    assert empty["confusion"]["matrix"] == [[0] * 7 for _ in range(7)]
    junk = score_mer(["", "xyz", "他很开心"], [{"emotion": "happy"}] * 3)
    assert junk["accuracy"] == 0.0 and junk["waf"] == 0.0 and junk["unparsed"] == 3
    assert junk["unparsed_indices"] == [0, 1, 2] and junk["hit_rate"] == 0.0
    with pytest.raises(MetricsInputError, match="reference 1 has emotion 'contemplative'"):
        score_mer(["happy", "sad"], [{"emotion": "happy"}, {"emotion": "contemplative"}])
    with pytest.raises(MetricsInputError, match="reference 0 has no 'emotion'"):
        score_mer(["happy"], [{"label": "happy"}])
    with pytest.raises(MetricsInputError, match="2 predictions but 1 references"):
        score_mer(["happy", "sad"], [{"emotion": "happy"}])
    with pytest.raises(MetricsInputError, match=r"predictions at \[0\] are not strings"):
        score_mer([None], [{"emotion": "happy"}])


def test_mer_with_an_external_wheel(tmp_path):
    path = tmp_path / "wheel.json"
    path.write_text(json.dumps({"version": "t", "groups": {"happy": ["chuffed"], "sad": ["glum"]}}))
    result = score_mer(["chuffed", "happy"], [{"emotion": "happy"}, {"emotion": "glum"}], wheel=path)
    # chuffed -> happy (right); "happy" -> happy vs gold sad (wrong)
    assert result["accuracy"] == 0.5 and result["hit_rate"] == 0.5


def test_msa_three_class_and_binary():
    answers = ["Positive.", "-1.2", "neutral", "??", "The sentiment is neither positive nor negative",
               "I think the speaker is not happy at all; the sentiment is negative"]
    refs = [{"sentiment": "positive"}, {"sentiment_score": -0.4}, {"sentiment_score": 1.0},
            {"sentiment": "neutral"}, {"sentiment_score": 0.0}, {"sentiment_score": -2}]
    # golds: pos neg pos neu neu neg ; preds: pos neg neu (unparsed) neu neg
    result = score_msa(answers, refs)
    assert result["accuracy"] == pytest.approx(0.6667)  # 4/6
    # positive(2) P=1 R=.5 F=2/3 | negative(2) F=1 | neutral(2) P=.5 R=.5 F=.5
    # WAF = (2*2/3 + 2*1 + 2*.5)/6 = 0.7222 ; UAR = (.5 + 1 + .5)/3 = 0.6667
    assert result["waf"] == pytest.approx(0.7222)
    assert result["uar"] == pytest.approx(0.6667)
    assert result["unparsed_indices"] == [3]
    binary = result["binary"]
    # non-neutral golds: 0 1 2 5 -> preds pos neg (neutral = wrong) neg -> 3/4
    # positive(2) P=1 R=.5 F=2/3 | negative(2) F=1 -> WAF = (2*2/3 + 2)/4 = 0.8333
    assert binary["n"] == 4 and binary["accuracy"] == 0.75
    assert binary["waf"] == pytest.approx(0.8333)
    assert binary["unparsed_indices"] == [2]      # index into the full list
    assert result["confusion"]["labels"] == ["negative", "neutral", "positive", "unparsed"]


def test_msa_gold_errors():
    with pytest.raises(MetricsInputError, match="reference 0 has neither 'sentiment' nor a numeric 'sentiment_score'"):
        score_msa(["positive"], [{"sentiment_score": "high"}])
    with pytest.raises(MetricsInputError, match="sentiment 'meh'"):
        score_msa(["positive"], [{"sentiment": "meh"}])


def test_mir_hand_worked():
    answers = ["apologize", "thank", "thank", "The speaker is asking for help"]
    golds = ["apologise", "thank", "greet", "ask for help"]
    result = score_mir(answers, [{"intent": g} for g in golds])
    # correct 0, 1, 3 -> 0.75; thank P=.5 R=1 F=2/3; greet F=0; others F=1
    # WAF = (1 + 2/3 + 0 + 1)/4 = 0.6667
    assert result["accuracy"] == 0.75
    assert result["waf"] == pytest.approx(0.6667)
    assert len(result["confusion"]["labels"]) == 20
    with pytest.raises(MetricsInputError, match="intent 'dance'"):
        score_mir(["thank"], [{"intent": "dance"}])


def test_classification_scores_counts_unparsed_as_wrong():
    # 2 golds "a"; one right, one unparsed: accuracy .5, recall(a) .5, precision(a) 1 -> F 2/3
    result = classification_scores(["a", "a"], ["a", None], ["a", "b"])
    assert result["accuracy"] == 0.5 and result["waf"] == pytest.approx(0.6667) and result["uar"] == 0.5
    assert result["confusion"] == {"labels": ["a", "b", "unparsed"], "matrix": [[1, 0, 1], [0, 0, 0], [0, 0, 0]]}
