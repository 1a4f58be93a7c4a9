"""OV-MER set precision/recall/F over wheel groups, on a hand-worked example."""

import pytest

from emollm.metrics import MetricsInputError, score_ov_mer, set_scores


def test_ov_mer_hand_worked():
    answers = ["happy, joyful, anxious", "sad", "nervous, curious, grumbly", ""]
    refs = [{"emotions": ["happy", "worried"]}, {"emotions": "angry, sad"}, {"emotions": ["anxious"]},
            {"emotions": ["happy"]}]
    result = score_ov_mer(answers, refs)
    # groups: s0 {happy, anxious} vs {happy, anxious}: P=1 R=1
    #         s1 {sad} vs {angry, sad}: P=1 R=.5
    #         s2 {nervous, curious, grumbly} vs {anxious}: P=0 R=0
    #         s3 {} vs {happy}: P=0 R=0 (unparsed)
    # P = 2/4 = .5 ; R = 1.5/4 = .375 ; F = 2*.5*.375/.875 = .4286
    assert (result["precision"], result["recall"], result["f1"]) == (0.5, 0.375, pytest.approx(0.4286))
    # basic level: s2 {fearful, surprised, grumbly} vs {fearful}: P=1/3 R=1
    # P = (1 + 1 + 1/3 + 0)/4 = .5833 ; R = (1 + .5 + 1 + 0)/4 = .625 ; F = .6034
    assert result["basic"] == {"precision": pytest.approx(0.5833), "recall": 0.625, "f1": pytest.approx(0.6034)}
    assert result["unparsed"] == 1 and result["unparsed_indices"] == [3]


def test_ov_mer_edges():
    assert set_scores([], []) == {"precision": None, "recall": None, "f1": None}
    assert set_scores([set(), set()], [{"a"}, {"b"}]) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    # an unknown word matches itself only
    assert score_ov_mer(["zany"], [{"emotions": ["Zany"]}])["f1"] == 1.0
    with pytest.raises(MetricsInputError, match="reference 0 has no 'emotions'"):
        score_ov_mer(["happy"], [{"emotions": []}])
