"""Share of answers that copy the subtitle."""

import pytest

from emollm.metrics import MetricsInputError, copies_subtitle, subtitle_copy_rate


def test_subtitle_copy_rate_hand_worked():
    subtitles = ["I can't believe it!", "I'm so glad you came to the party tonight", None,
                 "Thanks a lot for the report.", ""]
    answers = ["i can't believe it",              # same words -> copy
               "so glad you came to the party",   # 7 words, all in the subtitle -> copy
               "happy",                           # no subtitle -> not checked
               "Thanks for the report, I'm happy",  # 4 of 6 words shared (0.67 < 0.8) -> no
               "anything"]                        # empty subtitle -> not checked
    result = subtitle_copy_rate(answers, subtitles)
    assert result["checked"] == 3 and result["copied"] == 2 and result["copied_indices"] == [0, 1]
    assert result["rate"] == 0.6667


def test_copy_rule_thresholds():
    assert copies_subtitle("glad", "glad")                   # equal words copy whatever the length
    assert not copies_subtitle("glad", "I'm so glad")        # 1 word < 4
    assert copies_subtitle("so glad now I", "now I am so glad")    # 4/4 shared
    assert not copies_subtitle("so so glad now", "now I am so glad")  # one "so" too many: 3/4
    assert not copies_subtitle("so so so glad", "so glad")   # multiplicity: 2 of 4 shared
    assert not copies_subtitle("", "text") and not copies_subtitle("text", "")
    assert subtitle_copy_rate([], [])["rate"] is None


def test_subtitles_must_match_predictions():
    with pytest.raises(MetricsInputError, match="2 predictions but 1 subtitles"):
        subtitle_copy_rate(["a", "b"], ["a"])
