"""Build the small byte-level BPE tokenizer that ships with the `tiny` preset
(emollm/assets/tiny_tokenizer). Run once; the output is committed so nothing downloads.

It uses Qwen2.5's ChatML format and special tokens, so the tiny model is templated exactly
like the real preset, plus EmoLLM's four media placeholders. Its BPE merges are learnt from the
prompts and answers of the synthetic set (the embedded default it is trained on) plus a few
general sentences, so the synthetic set's words are mostly single tokens: an ERG answer is about
40 tokens instead of about 106 with character-level pieces, which is what lets the tiny LLM
learn the chain-of-empathy template within the demo's minutes.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from data_pipeline.labels import EMOTIONS, INTENTS, SENTIMENTS  # noqa: E402
from data_pipeline.synthetic.plan import make_plans  # noqa: E402
from data_pipeline.synthetic.records import ANSWERS  # noqa: E402
from data_pipeline.tasks import EMPATHY_CHAIN_FIELDS, TASK_INSTRUCTIONS, user_prompt  # noqa: E402
from emollm.configuration_emollm import PLACEHOLDERS  # noqa: E402
from emollm.templates import CHATML_TEMPLATE  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "emollm" / "assets" / "tiny_tokenizer"
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# ordinary (non-special) tokens, so decoding keeps them: the chain of empathy is parsed from them
REASONING_TOKENS = ["<think>", "</think>"]

CORPUS = [
    "You are a helpful assistant.", "The speaker says:", *TASK_INSTRUCTIONS.values(),
    *EMOTIONS, *SENTIMENTS, *INTENTS, *EMPATHY_CHAIN_FIELDS,
    "Clues: raised mouth corners, lowered brows, wide open eyes, trembling voice, high pitch, low pitch, "
    "loud voice, soft voice, fast speech, slow speech, frown, smile, tears, scowl, wrinkled nose.",
    "I am so happy today! Thank you so much for your help. I can't believe this happened. "
    "Why did you do that? Please help me, I don't know what to do. I'm sorry, it was my fault. "
    "That sounds really hard. I'm here for you. It makes sense that you feel this way. "
    "Let's take a breath and see what we can do together. That's wonderful news, congratulations!",
    "The weather is fine and the meeting starts at nine. We went to the market and bought some bread.",
]


def synthetic_corpus(n: int = 600, seed: int = 0) -> list[str]:
    """Every task's prompt and answer for `n` synthetic clip plans (text only, nothing rendered)."""
    return [text for plan in make_plans(n, seed) for task, answer in ANSWERS.items()
            for text in (user_prompt(task, plan.subtitle), answer(plan))]


def main() -> None:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=2048, min_frequency=2, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(CORPUS * 4 + synthetic_corpus(), trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        additional_special_tokens=[*PLACEHOLDERS.values()], chat_template=CHATML_TEMPLATE)
    fast.add_tokens(REASONING_TOKENS)
    fast.model_max_length = 4096
    OUT.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(OUT)
    print(f"saved {len(fast)} tokens to {OUT}")


if __name__ == "__main__":
    main()
