"""The ERG chain of empathy: splitting `<think>...</think>` from the reply (as vLLM's reasoning
parsers return `reasoning_content` apart from `content`) and checking the chain's four fields."""

import re
from dataclasses import dataclass, field

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
CHAIN_FIELDS = ("Event scenario", "Speaker emotion", "Emotion cause", "Goal of the reply")
_CANONICAL = {name.lower(): name for name in CHAIN_FIELDS}
_FIELD_LINE = re.compile(r"^[ \t]*(" + "|".join(map(re.escape, CHAIN_FIELDS)) + r")[ \t]*:", re.MULTILINE | re.IGNORECASE)


def split_reasoning(text: str) -> tuple[str | None, str]:
    """(reasoning, reply). No think tags: (None, text). `<think>` never closed (generation cut
    short): everything after it is reasoning, and the reply is what came before it (usually nothing). A `</think>` without an opening
    tag (the template opened it in the prompt): what precedes it is the reasoning."""
    close = text.find(THINK_CLOSE)
    if close < 0:
        open_ = text.find(THINK_OPEN)
        if open_ < 0:
            return None, text.strip()
        return text[open_ + len(THINK_OPEN):].strip(), text[:open_].strip()
    head, reply = text[:close], text[close + len(THINK_CLOSE):]
    open_ = head.find(THINK_OPEN)
    reasoning = head[open_ + len(THINK_OPEN):] if open_ >= 0 else head
    return reasoning.strip(), reply.strip()


@dataclass
class Chain:
    """The parsed chain: field values by name, the reply, and why it is not well-formed (if so)."""

    fields: dict[str, str] = field(default_factory=dict)
    reply: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def well_formed(self) -> bool:
        return not self.problems


def parse_chain(text: str) -> Chain:
    """Parse `<think>\\nEvent scenario: ...\\nSpeaker emotion: ...\\nEmotion cause: ...\\nGoal of
    the reply: ...\\n</think>\\n<reply>`; `problems` lists every deviation from that form."""
    reasoning, reply = split_reasoning(text)
    chain = Chain(reply=reply)
    if reasoning is None:
        chain.problems.append("no <think> block")
        return chain
    if text.count(THINK_OPEN) != 1 or text.count(THINK_CLOSE) != 1:
        chain.problems.append("not exactly one <think>...</think> block")
    if not text.lstrip().startswith(THINK_OPEN):
        chain.problems.append("text before <think>")
    found = list(_FIELD_LINE.finditer(reasoning))
    names = [_CANONICAL[m.group(1).lower()] for m in found]
    following = [*found[1:], None] if found else []
    for name, match, after in zip(names, found, following, strict=True):
        end = after.start() if after else len(reasoning)
        chain.fields.setdefault(name, reasoning[match.end():end].strip())
    missing = [f for f in CHAIN_FIELDS if f not in chain.fields]
    if missing:
        chain.problems.append(f"missing fields: {', '.join(missing)}")
    elif names != list(CHAIN_FIELDS):
        chain.problems.append("fields out of order or repeated")
    empty = [f for f, value in chain.fields.items() if not value]
    if empty:
        chain.problems.append(f"empty fields: {', '.join(empty)}")
    if not reply:
        chain.problems.append("empty reply")
    return chain
