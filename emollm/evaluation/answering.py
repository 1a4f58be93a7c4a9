"""Batched greedy answering, shared by `emollm eval` and `emollm predict`.

A `Query` is one question about one clip (chat messages plus the record's or file's `Clip`).
`Answerer.answer(queries)` encodes each clip once through the inference core and its feature
cache (so ablations and the six tasks of a clip reuse its tower features), generates the answers
of a batch in one `generate` call (greedy, seeded) and returns one `Answer` per query: a clip
that can't be decoded becomes an answer with `error` set, and the rest of the batch goes on.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from data_pipeline.clip import Clip
from data_pipeline.errors import MediaError, UserFacingError
from emollm.dtypes import resolve_dtype
from emollm.inference import InferenceCore, load_model_dir, torch_threads

logger = logging.getLogger(__name__)

SEED = 0
# Below this size a model gains nothing from intra-op threads, and on a busy machine OpenMP's
# waiting makes several threads 10-20x slower than one (measured on 2 cores, tiny preset).
SMALL_MODEL_PARAMETERS = 50_000_000
# Longest gold answer of the synthetic set in tiny-tokenizer tokens (MER/MSA 1, MIR 3, OV-MER 15,
# ERI 79, ERG 139), with room to spare; a trained model stops at <|im_end|> long before.
DEFAULT_MAX_NEW_TOKENS: dict[str, int] = {"MER": 16, "MSA": 16, "MIR": 16, "OV-MER": 32, "ERI": 128, "ERG": 192}


def generation_settings(max_new_tokens: dict[str, int] | None = None) -> dict:
    """How answers are decoded (written into run_info.json)."""
    return {"do_sample": False, "num_beams": 1, "seed": SEED,
            "max_new_tokens": DEFAULT_MAX_NEW_TOKENS | (max_new_tokens or {}),
            "feature_dtype": "bfloat16 (tower features are rounded as the feature cache stores them)"}


@dataclass
class Query:
    key: str  # a record id (eval) or a file path (predict)
    task: str
    messages: list[dict]
    clip: Clip | None = None  # None: text only


@dataclass
class Answer:
    key: str
    task: str
    text: str | None = None
    error: str | None = None


def model_dir_hash(model_dir: str | Path) -> str:
    """sha256 over the weight and config files of a model directory (names and contents)."""
    digest = hashlib.sha256()
    for path in sorted(Path(model_dir).iterdir()):
        if path.is_file() and path.suffix in (".safetensors", ".json", ".jinja", ".bin"):
            digest.update(path.name.encode())
            with path.open("rb") as handle:
                digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()[:16]


def model_state_hash(model) -> str:
    """sha256 over every parameter and buffer of an in-memory model."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def default_threads(model, requested: int | None = None) -> int:
    """torch CPU threads for answering: as asked, else 1 for a small model, else torch's default."""
    if requested is not None:
        if requested < 1:
            raise UserFacingError(f"--threads must be at least 1, got {requested}")
        return requested
    from emollm.prepack import PrepackedLinear

    packed = sum(m.in_features * m.out_features for m in model.modules() if isinstance(m, PrepackedLinear))
    if sum(p.numel() for p in model.parameters()) + packed < SMALL_MODEL_PARAMETERS:  # prepacked: not parameters
        return 1
    return torch.get_num_threads()


class Answerer:
    """Greedy, seeded answers for batches of queries."""

    def __init__(self, model, processor, cache=None, max_new_tokens: dict[str, int] | None = None,
                 threads: int | None = None):
        from emollm.feature_cache import FeatureCache

        # in memory by default: clips are re-asked (tasks, ablations)
        self.core = InferenceCore(model, processor, cache if cache is not None else FeatureCache())
        self.threads = default_threads(model, threads)
        self.max_new_tokens = DEFAULT_MAX_NEW_TOKENS | (max_new_tokens or {})

    def settings(self) -> dict:
        return generation_settings(self.max_new_tokens)

    def answer(self, queries: list[Query]) -> list[Answer]:
        """One answer per query, in order; a clip that can't be read gives an answer with `error`."""
        with torch_threads(self.threads), torch.no_grad():
            return self._answer(queries)

    def _answer(self, queries: list[Query]) -> list[Answer]:
        answers = [Answer(q.key, q.task) for q in queries]
        ready, clips = [], []
        for position, query in enumerate(queries):
            try:
                clips.append(self.core.encode(query.clip)[0])
                ready.append(position)
            except MediaError as error:  # the media layer's word for "this file can't be decoded"
                answers[position].error = str(error)
            except OSError as error:  # unreadable (permissions, vanished); anything else is a bug: raise
                answers[position].error = f"{type(error).__name__}: {error}"
        if ready:
            texts = self.generate([queries[p] for p in ready], clips)
            for position, text in zip(ready, texts, strict=True):
                answers[position].text = text
        return answers

    def generate(self, queries: list[Query], clips: list) -> list[str]:
        batch = self.core.batch([q.messages for q in queries], clips)
        limit = max(self.max_new_tokens.get(q.task, max(DEFAULT_MAX_NEW_TOKENS.values())) for q in queries)
        torch.manual_seed(SEED)
        ids = self.core.generate(batch, max_new_tokens=limit, do_sample=False, num_beams=1)
        return [text.strip() for text in self.core.processor.batch_decode(ids, skip_special_tokens=True)]


class ModelSource:
    """A model given as a directory (loaded on first use: a rerun with nothing left to answer
    never loads it) or as an already loaded (model, processor) pair."""

    def __init__(self, model_dir: str | Path | None = None, model=None, processor=None, name: str | None = None,
                 dtype: str | None = None, cpu_optimizations: bool = True):
        if (model_dir is None) == (model is None):
            raise ValueError("give either model_dir or (model, processor)")
        if model is not None and processor is None:
            raise ValueError("an in-memory model needs its processor")
        self.model_dir = Path(model_dir) if model_dir is not None else None
        if self.model_dir is not None and not (self.model_dir / "config.json").exists():
            raise UserFacingError(f"not a model directory (no config.json): {self.model_dir}")
        self._loaded = (model, processor) if model is not None else None
        self._identity: str | None = None
        self._name = name
        self._dtype = dtype  # a `--dtype` value; None keeps the dtype the directory was saved in
        # emollm.cpu_inference, as the serving engine applies it; never to a model given in memory (it may train)
        self.cpu_optimizations = cpu_optimizations and self.model_dir is not None

    @classmethod
    def of(cls, model_or_dir) -> ModelSource:
        """A directory path, a (model, processor) pair, or a ModelSource."""
        if isinstance(model_or_dir, ModelSource):
            return model_or_dir
        if isinstance(model_or_dir, tuple | list):
            return cls(model=model_or_dir[0], processor=model_or_dir[1])
        return cls(model_dir=model_or_dir)

    @property
    def name(self) -> str:
        if self._name:
            return self._name
        if self.model_dir is not None:
            return self.model_dir.resolve().name
        return Path(str(getattr(self._loaded[0], "name_or_path", "") or "model")).name or "model"

    @property
    def identity(self) -> str:
        if self._identity is None:
            self._identity = (model_dir_hash(self.model_dir) if self.model_dir is not None
                              else model_state_hash(self._loaded[0]))
        return self._identity

    @property
    def loaded(self) -> bool:
        return self._loaded is not None

    @property
    def dtype(self) -> str:
        """The dtype answers are computed in (part of an evaluation's identity: a resumed run
        never mixes dtypes)."""
        if self._loaded is not None:
            return str(next(self._loaded[0].parameters()).dtype).removeprefix("torch.")
        if self._dtype is not None:
            return str(resolve_dtype(self._dtype)).removeprefix("torch.")
        return str(self.load()[0].dtype).removeprefix("torch.")

    def load(self):
        if self._loaded is None:
            kwargs = {"dtype": resolve_dtype(self._dtype)} if self._dtype is not None else {}
            self._loaded = load_model_dir(self.model_dir, **kwargs)
            if self.cpu_optimizations:
                from emollm.cpu_inference import optimize_for_cpu

                optimize_for_cpu(self._loaded[0])
        return self._loaded
