"""vLLM reasoning parser "emollm": the `<think>` chain of empathy apart from the reply, split by
the same code as `emollm serve` (`split_reasoning` whole, `ReasoningStream` streamed), so both
servers return the same `reasoning` and `content` for the same text."""

from __future__ import annotations

from collections.abc import Sequence

from vllm.entrypoints.generate.base.protocol import DeltaMessage
from vllm.reasoning import ReasoningParser

from serve.vllm_plugin._project import THINK_CLOSE, THINK_OPEN, ReasoningStream, split_reasoning

PARSER_NAME = "emollm"


class EmoLLMReasoningParser(ReasoningParser):
    def __init__(self, tokenizer, *args, **kwargs):
        super().__init__(tokenizer, *args, **kwargs)
        self.close_ids = tokenizer.encode(THINK_CLOSE, add_special_tokens=False)

    @property
    def reasoning_start_str(self) -> str:
        return THINK_OPEN

    @property
    def reasoning_end_str(self) -> str:
        return THINK_CLOSE

    def is_reasoning_end(self, input_ids: Sequence[int]) -> bool:
        return self._close_at(list(input_ids)) >= 0

    def extract_content_ids(self, input_ids: list[int]) -> list[int]:
        close = self._close_at(input_ids)
        return input_ids[close + len(self.close_ids):] if close >= 0 else []

    def _close_at(self, ids: list[int]) -> int:
        width = len(self.close_ids)
        return next((i for i in range(len(ids) - width, -1, -1) if ids[i:i + width] == self.close_ids), -1)

    def extract_reasoning(self, model_output: str, request) -> tuple[str | None, str | None]:
        reasoning, reply = split_reasoning(model_output)
        return reasoning, reply

    def extract_reasoning_streaming(self, previous_text: str, current_text: str, delta_text: str,
                                    previous_token_ids, current_token_ids, delta_token_ids) -> DeltaMessage | None:
        # vLLM hands the whole text so far; replaying it through a fresh splitter keeps this
        # stateless, and what the splitter has let out only ever grows
        before, now = _emitted(previous_text), _emitted(current_text)
        reasoning, content = now[0][len(before[0]):], now[1][len(before[1]):]
        if not reasoning and not content:
            return None
        return DeltaMessage(reasoning=reasoning or None, content=content or None)


def _emitted(text: str) -> tuple[str, str]:
    return ReasoningStream().feed(text)


def register_reasoning_parser() -> None:
    from vllm.reasoning import ReasoningParserManager

    ReasoningParserManager.register_module(PARSER_NAME, force=True, module=EmoLLMReasoningParser)
