"""Label sets, fixed in code so that scores compare across runs and papers.

* EMOTIONS: the 7 basic classes (Ekman's six + neutral) every MER converter maps to; the
  original label is always kept beside it in the record.
* SENTIMENTS: 3-class polarity (MSA); binary scores drop neutral golds, as MOSI/MOSEI papers do.
* INTENTS: MIntRec's 20 intent classes (MIR).
* SYNTHETIC_INTENTS: the small subset the synthetic set expresses in its wording.
"""

from __future__ import annotations

EMOTIONS: tuple[str, ...] = ("neutral", "happy", "sad", "angry", "surprised", "fearful", "disgusted")

SENTIMENTS: tuple[str, ...] = ("negative", "neutral", "positive")

# Polarity that follows from a basic emotion (used by the synthetic set and by converters
# of sets that have no sentiment annotation of their own).
EMOTION_POLARITY: dict[str, str] = {
    "neutral": "neutral",
    "happy": "positive",
    "surprised": "positive",
    "sad": "negative",
    "angry": "negative",
    "fearful": "negative",
    "disgusted": "negative",
}

INTENTS: tuple[str, ...] = (
    "complain", "praise", "apologise", "thank", "criticize", "care", "agree", "taunt", "flaunt",
    "joke", "oppose", "comfort", "inform", "advise", "arrange", "introduce", "leave", "prevent",
    "greet", "ask for help",
)

SYNTHETIC_INTENTS: tuple[str, ...] = ("complain", "praise", "thank", "inform", "ask for help", "apologise")

LABEL_SETS: dict[str, tuple[str, ...]] = {
    "emotion7": EMOTIONS,
    "sentiment3": SENTIMENTS,
    "intent20": INTENTS,
    "open_vocabulary": (),  # free emotion words, scored over the emotion wheel's synonym groups
}

# Finer emotion words per basic class: the synthetic set's OV-MER answers draw 1-2 of these
# beside the basic word (e.g. "happy, cheerful"). Each tuple is also one synonym group.
FINE_EMOTIONS: dict[str, tuple[str, ...]] = {
    "neutral": ("calm", "composed", "indifferent"),
    "happy": ("cheerful", "joyful", "delighted"),
    "sad": ("disappointed", "downcast", "sorrowful"),
    "angry": ("annoyed", "frustrated", "furious"),
    "surprised": ("astonished", "amazed", "startled"),
    "fearful": ("anxious", "worried", "scared"),
    "disgusted": ("repulsed", "contemptuous", "revolted"),
}

# The one table of dataset emotion words (lower-case) per basic class, for every converter and
# for labels users give, so the same word maps the same way everywhere. The dataset's own word
# always stays in `Labels.original`. Choices beyond the obvious synonyms (docs/datasets.md):
# worry/anxiety -> fearful, contempt -> disgusted, frustration -> angry,
# disappointment/helplessness/guilt/shame -> sad, low-arousal anticipation words -> neutral.
EMOTION_SYNONYMS: dict[str, tuple[str, ...]] = {
    "neutral": ("neutral", "neu", "neutrality", "calm", "none", "anticipating", "prepared", "faithful", "trusting",
                "中性", "平静", "无"),
    "happy": ("happy", "happiness", "happily", "joy", "joyful", "hap", "exc", "excited", "excitement", "content",
              "proud", "grateful", "hopeful", "confident", "impressed", "caring", "amused", "pleased",
              "开心", "高兴", "快乐", "喜悦", "兴奋"),
    "sad": ("sad", "sadness", "lonely", "devastated", "disappointed", "disappointment", "nostalgic",
            "sentimental", "guilty", "ashamed", "embarrassed", "helplessness", "grief",
            "悲伤", "难过", "伤心", "失望", "无助"),
    "angry": ("angry", "anger", "angrily", "ang", "annoyed", "furious", "jealous", "frustrated", "frustration",
              "愤怒", "生气"),
    "surprised": ("surprised", "surprise", "sur", "惊讶", "惊喜"),
    "fearful": ("fearful", "fear", "fea", "afraid", "terrified", "anxious", "anxiety", "apprehensive",
                "worried", "worry", "恐惧", "害怕", "担心", "焦虑"),
    "disgusted": ("disgusted", "disgust", "dis", "contempt", "厌恶", "恶心", "轻蔑"),
}

EMOTION_ALIASES: dict[str, str] = {word: emotion for emotion, words in EMOTION_SYNONYMS.items() for word in words}


def map_emotion(label: object) -> str | None:
    """The basic emotion for a dataset's label word (case and surrounding space ignored); None
    for a word the table does not know (converters drop that clip from MER and count it)."""
    if label is None:
        return None
    return EMOTION_ALIASES.get(str(label).strip().lower())


def normalize_emotion(word: str) -> str:
    """Map a dataset's emotion label to one of EMOTIONS; ValueError naming the word if unknown."""
    emotion = map_emotion(word)
    if emotion is None:
        raise ValueError(f"unknown emotion label {word!r}; expected one of {', '.join(EMOTIONS)} (or an alias)")
    return emotion
