"""ERG: reasoning split, chain parsing, Dist-n, BLEU, ROUGE-L, and the ERG scorer."""

import pytest

from emollm.metrics import corpus_bleu, distinct_n, parse_chain, rouge_l, score_erg, split_reasoning

GOOD = ("<think>\nEvent scenario: A friend passed the exam.\nSpeaker emotion: joyful\n"
        "Emotion cause: the exam went well\nGoal of the reply: share their joy\n</think>\nThat is great news!")


@pytest.mark.parametrize("text, expected", [
    ("Just a reply.", (None, "Just a reply.")),
    ("<think>\nplan\n</think>\n\nHello there", ("plan", "Hello there")),
    ("plan</think>Hello", ("plan", "Hello")),            # opening tag was in the prompt
    ("<think>\ncut short", ("cut short", "")),           # generation stopped inside the chain
    ("<think></think>Hi", ("", "Hi")),
])
def test_split_reasoning(text, expected):
    assert split_reasoning(text) == expected


def test_parse_chain_well_formed():
    chain = parse_chain(GOOD)
    assert chain.well_formed, chain.problems
    assert chain.fields == {"Event scenario": "A friend passed the exam.", "Speaker emotion": "joyful",
                            "Emotion cause": "the exam went well", "Goal of the reply": "share their joy"}
    assert chain.reply == "That is great news!"


@pytest.mark.parametrize("text, problem", [
    ("That is great news!", "no <think> block"),
    (GOOD.replace("Goal of the reply: share their joy\n", ""), "missing fields: Goal of the reply"),
    (GOOD.replace("That is great news!", ""), "empty reply"),
    (GOOD.replace("joyful", ""), "empty fields: Speaker emotion"),
    ("Sure! " + GOOD, "text before <think>"),
    ("<think>\nno fields at all\n</think>\nOkay.", "missing fields: Event scenario"),  # once crashed the scorer
    (GOOD + "<think>again</think>", "not exactly one <think>...</think> block"),
    (GOOD.replace("Event scenario: A friend passed the exam.\nSpeaker emotion: joyful",
                  "Speaker emotion: joyful\nEvent scenario: A friend passed the exam."), "fields out of order"),
])
def test_parse_chain_problems(text, problem):
    chain = parse_chain(text)
    assert not chain.well_formed
    assert any(p.startswith(problem) for p in chain.problems), chain.problems


def test_distinct_n_hand_worked():
    replies = ["That is great news!", "It will be fine.", "It will be fine, it will."]
    # tokens: 5 + 5 + 8 = 18 unigrams, distinct: that is great news ! it will be fine . , = 11
    assert distinct_n(replies, 1) == pytest.approx(11 / 18, abs=1e-4)
    # bigrams: 4 + 4 + 7 = 15; the third reply adds 3 new ones (fine ,) (, it) (will .) -> 11/15
    assert distinct_n(replies, 2) == pytest.approx(11 / 15, abs=1e-4)
    assert distinct_n([], 1) is None and distinct_n(["one"], 2) is None


def test_rouge_l_and_bleu():
    # LCS("that is great news", "that is great news for you") = 4: P=1 R=4/6 F=.8 ; identical: 1 ; disjoint: 0
    hyps = ["That is great news!", "It will be fine.", "It will be fine, it will."]
    refs = ["That is great news for you!", "It will be fine.", "I am so sorry."]
    assert rouge_l(hyps, refs) == pytest.approx(0.6)
    assert corpus_bleu(refs, refs)["bleu"] == 100.0
    assert corpus_bleu(["aa bb cc dd"], ["ee ff gg hh"])["bleu"] == 0.0
    assert "tok:13a" in corpus_bleu(refs, refs)["bleu_signature"]
    assert corpus_bleu([], [])["bleu"] is None and rouge_l([], []) is None


def test_erg_scorer_hand_worked():
    answers = [GOOD,
               "<think>\nEvent scenario: x\nSpeaker emotion: worried\nEmotion cause: y\n</think>\nIt will be fine.",
               "It will be fine, it will."]
    refs = [{"emotion": "happy", "reply": "That is great news for you!"},
            {"emotion": "fearful", "reply": "It will be fine."},
            {"emotion": "sad", "reply": "I am so sorry."}]
    result = score_erg(answers, refs)
    # emotion: joyful -> happy (right), worried -> fearful (right), no field (unparsed) -> 2/3
    assert result["emotion_accuracy"] == pytest.approx(0.6667)
    assert result["emotion_unparsed_indices"] == [2]
    # hit (wheel group): joyful in happy's group; worried is in "anxious", not "fearful" -> 1/3
    assert result["emotion_hit"] == pytest.approx(0.3333)
    assert result["well_formed"] == pytest.approx(0.3333) and result["malformed_indices"] == [1, 2]
    assert result["malformed_reasons"][0] == {"index": 1, "problems": ["missing fields: Goal of the reply"]}
    # replies are those of the Dist/ROUGE tests above
    assert result["dist_1"] == pytest.approx(11 / 18, abs=1e-4)
    assert result["dist_2"] == pytest.approx(11 / 15, abs=1e-4)
    assert result["rouge_l"] == pytest.approx(0.6)
    assert 0 < result["bleu"] < 100
