"""MODEL_CARD.md, written into every model directory the project saves: what the model is, what it
was trained on, what it is for and not for (including where law restricts emotion recognition),
its known limits and biases, and its scores once evaluated.

    write_model_card(out_dir, base="tiny preset (random init)", training={...}, data=["synthetic"])
    update_model_card_metrics(out_dir, metrics)  # after `emollm eval`: replaces only the scores

The text depends only on the arguments and the directory's config.json (no dates), so the same
model gets the same card.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from data_pipeline.tables import markdown_table

CARD = "MODEL_CARD.md"
METRICS_START, METRICS_END = "<!-- emollm:metrics:start -->", "<!-- emollm:metrics:end -->"
TOY_HINTS = ("tiny", "synthetic", "random init")

INTENDED_USE = """\
- Research on multimodal affective computing: recognising expressed emotion, sentiment and intent
  in short clips (MER, MSA, OV-MER, MIR), explaining which cues point to an emotion (ERI), and
  drafting empathetic replies (ERG), benchmarked with `emollm eval`.
- Prototyping assistants that respond to how a person *appears* to feel, with a human in the loop
  and with the person's knowledge and consent.
- Its outputs are guesses about *expressed* emotion in one clip, not facts about what someone feels."""

OUT_OF_SCOPE = """\
- Decisions about people: hiring, firing, promotion, grading, admission, credit, insurance,
  policing, border control, or any assessment of honesty, guilt, aptitude or mental health.
- Covert monitoring of people who have not been told that their emotions are being inferred.
- Clinical diagnosis or treatment; crisis handling (route people in distress to humans)."""

LEGAL = """\
- **European Union.** The AI Act (Regulation (EU) 2024/1689), Article 5(1)(f), prohibits placing
  on the market, putting into service or using AI systems that infer the emotions of a natural
  person in the areas of **workplaces and education institutions**, except where the system is
  intended for **medical or safety reasons**. This prohibition has applied since 2 February 2025.
  Outside those areas, emotion recognition systems are classed as high-risk (Annex III, point 1(c))
  and deployers must inform the people exposed to them (Article 50(3)).
- Faces and voices are personal data under data-protection law (e.g. the GDPR); inferring emotions
  from them needs a lawful basis, and other jurisdictions have their own biometric and
  consumer-protection rules. Check the law where you deploy; this card is not legal advice."""

LIMITS = """\
- Facial expressions, voices and words do not map one-to-one onto inner feelings: the same feeling
  is shown differently across people and situations, and people mask or perform emotions.
- A fixed label set (seven basic emotions, three polarities, twenty intents) simplifies: mixed,
  subtle and culture-specific emotions are squeezed into the nearest label.
- Answers can be confidently wrong, can echo the subtitle instead of reading the face and voice,
  and the chain of empathy (`<think>...</think>`) is generated text, not a faithful trace of how
  the answer came about.
- Short clips only (a few frames and up to two minutes of audio); English prompts."""

BIAS = """\
- Emotion datasets are dominated by a few cultures and languages (much of it English- and
  Chinese-language film, TV and acted speech). Display rules differ across cultures, ages and
  genders, so accuracy is expected to differ across groups, and errors can follow stereotypes.
- Performance has not been measured per demographic group. Measure it on data like yours before
  relying on it, and report per-group scores beside the averages.
- Faces that are dark, occluded, turned away, or atypical (e.g. facial differences, some
  neurodivergent expression styles) and atypical voices (accents, speech impairments) are likely
  to be read less accurately."""

TOY = """\
> **This is a toy model.** It was built from the `tiny` preset (a few million parameters, random
> initialisation) and trained only on EmoLLM's procedural synthetic set: drawn cartoon faces,
> synthetic prosody and template sentences. It shows that the pipeline works end to end; it knows
> nothing about real people's emotions. Do not use its answers for anything but testing."""


def is_toy(base: str, data) -> bool:
    text = f"{base} {json.dumps(data, default=str)}".lower()
    return any(hint in text for hint in TOY_HINTS)


def _architecture(model_dir: Path) -> list[str]:
    path = model_dir / "config.json"
    if not path.exists():
        return ["- (no config.json in this directory)"]
    config = json.loads(path.read_text())
    text = config.get("text_config") or {}
    lines = [f"- Language model: {config.get('text_pretrained') or 'random init'} "
             f"({text.get('model_type', '?')}, hidden size {text.get('hidden_size', '?')}, "
             f"{text.get('num_hidden_layers', '?')} layers)"]
    for key, label in (("frame_config", "Frame tower"), ("face_config", "Face tower"), ("audio_config", "Audio tower")):
        sub = config.get(key)
        if sub:
            lines.append(f"- {label}: {sub.get('_name_or_path') or sub.get('model_type', '?')} (frozen)")
    lines.append("- Adapters project each modality into the LLM's input embeddings; a fusion encoder "
                 "pairs audio with frames (see docs/architecture.md).")
    return lines


def _as_lines(value) -> list[str]:
    if value is None:
        return ["- (not recorded)"]
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [f"- **{key}**: {_inline(item)}" for key, item in value.items()]
    return [f"- {_inline(item)}" for item in value]


def _inline(value) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_inline(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(map(_inline, value))
    return str(value)


def _pct(value) -> str:
    return "n/c" if value is None else f"{100 * value:.2f}"


def metrics_section(metrics: dict | None) -> str:
    """Scores from an `emollm eval` metrics.json (its `summary`: the full run's headline metric
    per task and dataset), or from a flat {name: value} dict."""
    if not metrics:
        return ("Not evaluated yet. Run `emollm eval --model DIR --data RECORDS --out EVAL_DIR` and see "
                "`docs/evaluation.md`.")
    if "summary" in metrics:  # an `emollm eval` metrics.json
        data = metrics.get("data", {})
        head = f"On `{data.get('file', '?')}` (split `{data.get('split', '?')}`, {data.get('records', '?')} records):\n\n"
        table = markdown_table(
            ["task", "dataset", "n", "metric", "value", "chance (majority)", "unparsed"],
            [[r["task"], r["dataset"], r["n"], r["metric"], _pct(r["value"]), _pct(r["chance_majority"]), r["unparsed"]]
             for r in metrics["summary"]], ["left", "left", "right", "left", "right", "right", "right"])
        return head + table + "\n\nRates x100; n/c = not computed. Full report: `emollm eval`'s report.md."
    return markdown_table(["metric", "value"], [[k, _inline(v)] for k, v in metrics.items()])


def default_name(model_dir: Path, details: dict) -> str:
    """A training phase's card is named after its curriculum and phase (it is written into a
    staging folder and copied on); other cards after their folder."""
    if details.get("curriculum") and details.get("phase") is not None:
        return f"{details['curriculum']} phase {details['phase']}"
    return re.sub(r"^\.(.+)\.partial$", r"\1", model_dir.resolve().name)


def describe_base(model_dir: Path, details: dict) -> str:
    """What a model started from, when the caller did not say: the phase it was initialised from,
    else the config's pretrained LLM, else a random init."""
    config_path = model_dir / "config.json"
    config = json.loads(config_path.read_text()) if config_path.exists() else {}
    source = config.get("text_pretrained") or "random init (tiny preset)"
    if details.get("init") and details.get("curriculum"):
        return f"phase `{details['init']}` of curriculum `{details['curriculum']}` ({source})"
    return str(source)


def training_details(details: dict, metrics: dict | None) -> dict:
    """A training phase's record (train/runner.py's phase info) as card lines."""
    config = details.get("config") or {}
    lines = {key: details[key] for key in ("curriculum", "phase", "description") if details.get(key)}
    if config.get("train"):
        lines["trained parts"] = config["train"]
    if config.get("lora"):
        lines["LoRA"] = config["lora"]
    if metrics:
        lines["run"] = {k: v for k, v in metrics.items() if v is not None and k in
                        ("steps", "samples", "first_loss", "final_loss", "seconds", "processes")}
    return lines


def render_model_card(model_dir: str | Path, *, base: str | None = None, training=None, data=None,
                      metrics: dict | None = None, name: str | None = None, toy: bool | None = None,
                      **details) -> str:
    model_dir = Path(model_dir)
    name = name or default_name(model_dir, details)
    if details.get("phase") is not None and not (metrics and "summary" in metrics):
        # Called with a training phase's record: its `metrics` are training metrics (loss, steps).
        training = training or training_details(details, metrics)
        mixture = {source: f"{count} training samples" for source, count in (details.get("mixture") or {}).items()}
        data = data or mixture or (details.get("config") or {}).get("data")
        metrics = None
    base = base or describe_base(model_dir, details)
    toy = is_toy(base, data) if toy is None else toy
    front = ["---", "license: apache-2.0", "library_name: transformers", "pipeline_tag: video-text-to-text",
             "tags: [emollm, emotion-recognition, multimodal, affective-computing" + (", toy" if toy else "") + "]", "---"]
    parts = [*front, "", f"# {name} (EmoLLM)", ""]
    if toy:
        parts += [TOY, ""]
    parts += ["A compact multimodal emotion LLM: video, image or audio plus text in, text out "
              "(emotion, sentiment, intent, reasoning about cues, empathetic replies).", "",
              "## Model", "", f"Started from: {base}", "", *_architecture(model_dir), "",
              "## Intended use", "", INTENDED_USE, "",
              "## Out of scope", "", OUT_OF_SCOPE, "",
              "## Where law restricts emotion recognition", "", LEGAL, "",
              "## Training data", "", *_as_lines(data), "",
              "## Training procedure", "", *_as_lines(training), "",
              "## Evaluation", "", METRICS_START, metrics_section(metrics), METRICS_END, "",
              "## Known limits", "", LIMITS, "",
              "## Bias across cultures and groups", "", BIAS, "",
              "## How to use", "", "```bash",
              "emollm predict --model path/to/this/folder clip.mp4 --task MER",
              "emollm serve --model path/to/this/folder   # OpenAI-style API at /v1, chat UI at /ui", "```", "",
              "```python", "from emollm.evaluation import predict_clip",
              'print(predict_clip("path/to/this/folder", "clip.mp4", "ERG"))', "```", ""]
    return "\n".join(parts)


def write_model_card(model_dir: str | Path, *, base: str | None = None, training=None, data=None,
                     metrics: dict | None = None, name: str | None = None, toy: bool | None = None,
                     **details) -> Path:
    """Write MODEL_CARD.md into `model_dir`. `base`: what the model started from (default: read
    from the directory); `training`: a description or {key: value}; `data`: a description, a list
    or {dataset: description}; `metrics`: an `emollm eval` metrics.json dict or {name: value};
    `toy`: default guessed from `base`/`data` (tiny preset, synthetic data). A training phase's
    record (phase, description, curriculum, init, config, metrics, mixture, ...) may be passed as
    keywords: it fills `training` and `data`, and its loss metrics go under training."""
    path = Path(model_dir) / CARD
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_model_card(model_dir, base=base, training=training, data=data, metrics=metrics,
                                      name=name, toy=toy, **details), encoding="utf-8")
    return path


def update_model_card_metrics(model_dir: str | Path, metrics: dict) -> Path:
    """Replace only the Evaluation section's scores of an existing card."""
    path = Path(model_dir) / CARD
    text = path.read_text(encoding="utf-8")
    start, end = text.find(METRICS_START), text.find(METRICS_END)
    if start < 0 or end < start:
        raise ValueError(f"{path} has no metrics markers; rewrite it with write_model_card")
    text = text[: start + len(METRICS_START)] + "\n" + metrics_section(metrics) + "\n" + text[end:]
    path.write_text(text, encoding="utf-8")
    return path
