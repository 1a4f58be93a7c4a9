"""Every dataset converter on a tiny copy of its published layout (built in tmp dirs)."""

from __future__ import annotations

import importlib
from collections import Counter
from pathlib import Path

import pytest

from data_pipeline.converters import discover_converters, get_converter
from data_pipeline.converters.base import Reject
from data_pipeline.errors import UserFacingError
from data_pipeline.labels import EMOTIONS, INTENTS, LABEL_SETS, SENTIMENTS, map_emotion
from data_pipeline.schema import Record
from data_pipeline.tasks import Task, user_prompt
from tests.data_pipeline.fixtures_converters import FIXTURES

DATASETS = ["mer2023", "mer2024", "meld", "iemocap", "mosi", "mosei", "sims", "simsv2", "dfew", "mafw",
            "ferv39k", "caer", "cremad", "m3ed", "mintrec", "mintrec2", "ovmerd", "avamerg", "empathetic_dialogues"]


def convert_all(name: str, root: Path, **options) -> tuple[list[Record], list[Reject]]:
    items = list(get_converter(name)(root, **options).iter_records())
    return [i for i in items if isinstance(i, Record)], [i for i in items if isinstance(i, Reject)]


def convert(name: str, root: Path, **options) -> list[Record]:
    return convert_all(name, root, **options)[0]


def test_every_dataset_has_a_converter_and_a_fixture():
    converters = discover_converters()
    assert set(DATASETS) <= set(converters)
    assert set(DATASETS) <= set(FIXTURES)
    for name in DATASETS:
        cls = converters[name]
        assert cls.source and cls.__module__.startswith("data_pipeline.converters.")
        assert cls.label_set in LABEL_SETS
        doc = importlib.import_module(cls.__module__).__doc__ or ""
        assert "<root>" in doc, f"{name}: the module docstring draws the layout it reads"


@pytest.mark.parametrize("name", DATASETS)
def test_converter_reads_its_published_layout(name, tmp_path):
    expected = FIXTURES[name](tmp_path / name)
    cls = get_converter(name)
    records, rejects = convert_all(name, tmp_path / name)
    assert len(records) == expected.count
    assert len(rejects) == expected.rejects
    assert all(r.reason.startswith(f"{name}: ") and r.path for r in rejects)
    assert Counter(r.split for r in records) == Counter(expected.splits)
    assert len({r.id for r in records}) == len(records)
    assert expected.answers <= {r.answer for r in records}
    for record in records:
        assert record.dataset == name and record.task in cls.tasks
        assert record.labels.original  # the dataset's own label is always kept
        assert record.answer
        if record.task is Task.MER:
            assert record.labels.emotion in EMOTIONS and record.answer == record.labels.emotion
        if record.task is Task.MSA:
            assert record.answer in SENTIMENTS and record.labels.sentiment_score is not None
        if record.task is Task.MIR:
            assert record.answer in INTENTS
        for path in (record.media.video, record.media.audio, record.media.image):
            assert path is None or Path(path).is_file(), path
        if not cls.has_audio:
            assert not record.media.has_audio and record.media.audio is None
        if not cls.has_video:
            assert record.media.video is None


def test_text_only_dialogues_have_no_media_and_keep_history(tmp_path):
    FIXTURES["empathetic_dialogues"](tmp_path)
    records = convert("empathetic_dialogues", tmp_path)
    last = next(r for r in records if r.answer == "Where has she gone?")
    assert not last.media.has_video and not last.media.has_audio and last.media.visual_path is None
    assert [t.role for t in last.conversation] == ["system", "user", "assistant"]
    assert last.subtitle == "This was a best friend. I miss her."
    assert last.conversation[0].content == (
        "Earlier in this conversation:\nSpeaker: I remember going to see the fireworks with my best friend.\n"
        "You: Was this a friend you were in love with?")
    assert last.conversation[1].content == user_prompt(Task.ERG, last.subtitle)
    assert last.labels.original == "sentimental" and last.labels.emotion == "sad"
    storm = next(r for r in records if r.split == "validation")
    assert storm.subtitle == "The storm was so loud, I hid." and storm.labels.emotion == "fearful"


def test_avamerg_answers_with_the_chain_of_empathy(tmp_path):
    FIXTURES["avamerg"](tmp_path)
    records = convert("avamerg", tmp_path)
    second = next(r for r in records if r.labels.reply == "Let's think about it together.")
    assert second.answer.startswith("<think>\nEvent scenario: Lost a job\nSpeaker emotion: anxious")
    assert second.answer.endswith("</think>\nLet's think about it together.")
    # the speaker's third utterance of conversation 00012 is its utterance 2 (0-based)
    assert second.media.video.endswith("media/dia00012utt2_s017.mp4")
    assert second.media.audio.endswith("media/dia00012utt2_s017.wav")
    assert second.labels.emotion == "fearful" and [t.role for t in second.conversation] == ["system", "user",
                                                                                            "assistant"]


def test_avamerg_reads_the_loaders_renamed_copies_too(tmp_path):
    """The public pipeline renames media to <split>/video|audio/dia{D}utt{k+1}; both schemes pair."""
    FIXTURES["avamerg"](tmp_path)
    for path in sorted((tmp_path / "media").iterdir()):
        dialogue, utterance = path.stem.split("_")[0].removeprefix("dia").split("utt")
        split = "test" if dialogue == "00040" else "train"
        kind = "video" if path.suffix == ".mp4" else "audio"
        target = tmp_path / split / kind / f"dia{int(dialogue)}utt{int(utterance) + 1}{path.suffix}"
        target.parent.mkdir(parents=True, exist_ok=True)
        path.rename(target)
    records = convert("avamerg", tmp_path)
    second = next(r for r in records if r.labels.reply == "Let's think about it together.")
    assert second.media.video.endswith("train/video/dia12utt3.mp4")
    assert all(Path(r.media.video).is_file() and Path(r.media.audio).is_file() for r in records)


def test_mer_release_and_processed_layouts(tmp_path):
    FIXTURES["mer2023"](tmp_path / "release")
    records = {r.labels.original: r for r in convert("mer2023", tmp_path / "release")}
    assert records["surprise"].split == "test" and records["surprise"].media.video.endswith("test3/sample_00005001.avi")
    assert records["happy"].split == "train"
    FIXTURES["mer2024"](tmp_path / "processed")
    records = {r.labels.original: r for r in convert("mer2024", tmp_path / "processed")}
    assert records["surprise"].split == "test"  # val = -10 (no valence): the emotion label stands
    assert records["angry"].subtitle == "你怎么又迟到了" and records["angry"].subtitle_language == "zh"


def test_original_labels_survive_mapping(tmp_path):
    FIXTURES["mer2024"](tmp_path)
    worried = next(r for r in convert("mer2024", tmp_path) if r.labels.original == "worried")
    assert worried.labels.emotion == "fearful" and worried.labels.sentiment == "negative"
    assert map_emotion("开心") == "happy" and map_emotion("愤怒") == "angry" and map_emotion("frustrated") == "angry"
    assert map_emotion("xxx") is None


def test_chinese_subtitles_and_sentiment_scores(tmp_path):
    FIXTURES["sims"](tmp_path)
    records = {r.split: r for r in convert("sims", tmp_path)}
    assert records["test"].subtitle == "这太让人失望了" and records["test"].subtitle_language == "zh"
    assert records["test"].labels.sentiment_score == pytest.approx(-0.6)
    assert records["test"].labels.original == "Negative" and records["test"].answer == "negative"


def test_meld_reads_windows_1252_and_keeps_its_sentiment(tmp_path):
    FIXTURES["meld"](tmp_path)
    monica = next(r for r in convert("meld", tmp_path) if r.labels.original == "sadness")
    assert monica.subtitle == "I\u2019m fine." and monica.labels.sentiment == "negative"


def test_open_vocabulary_words_and_descriptions(tmp_path):
    FIXTURES["ovmerd"](tmp_path)
    records = convert("ovmerd", tmp_path)
    ov = [r for r in records if r.task is Task.OV_MER]
    assert [r.labels.emotions for r in ov] == [["happy", "relieved"], ["angry", "disappointed"], ["neutral"]]
    eri = next(r for r in records if r.task is Task.ERI)
    assert eri.labels.emotions == ["happy", "relieved"] and eri.subtitle == "终于结束了"
    assert eri.labels.clues == ["In the video, she smiles and her voice rises; she feels happy and relieved."]
    assert {r.split for r in records} == {"test"}  # OV-MERD: MER-UniBench's OV-MER test set
    both = convert("ovmerd", tmp_path, subset="all")
    assert {r.split for r in both if r.id.startswith("ovmerd-mercaptionplus")} == {"train"}
    assert {r.split for r in convert("ovmerd", tmp_path, split="train")} == {"train"}
    with pytest.raises(UserFacingError, match="subset"):
        convert("ovmerd", tmp_path, subset="nope")
    with pytest.raises(UserFacingError, match="unknown split"):
        convert("ovmerd", tmp_path, split="holdout")


def test_mintrec2_keeps_only_the_shared_intents(tmp_path):
    FIXTURES["mintrec2"](tmp_path)
    records, (reject,) = convert_all("mintrec2", tmp_path)
    assert "Explain" not in {r.labels.original for r in records}
    assert "'Explain' is not one of MIntRec's 20" in reject.reason and reject.path.endswith("train.tsv:3")
    assert {r.labels.intent for r in records} == {"thank", "greet", "inform"}


def test_fold_and_session_options_pick_the_official_protocol(tmp_path):
    FIXTURES["iemocap"](tmp_path / "iemocap")
    by_split = Counter(r.split for r in convert("iemocap", tmp_path / "iemocap", test_session="1"))
    assert by_split == {"test": 2, "train": 1}
    FIXTURES["dfew"](tmp_path / "dfew")
    with pytest.raises(UserFacingError, match="set_2.csv"):
        convert("dfew", tmp_path / "dfew", fold=2)


def test_bad_label_files_are_errors_that_name_the_problem(tmp_path):
    FIXTURES["mosi"](tmp_path / "mosi")
    (tmp_path / "mosi" / "label.csv").write_text("video_id,clip_id,text\nabc,1,hi\n")
    with pytest.raises(UserFacingError, match="lacks column"):
        convert("mosi", tmp_path / "mosi")
    (tmp_path / "meld").mkdir()
    with pytest.raises(UserFacingError, match="train_sent_emo.csv"):
        convert("meld", tmp_path / "meld")
    FIXTURES["cremad"](tmp_path / "cremad")
    (tmp_path / "cremad" / "AudioWAV" / "notes.wav").write_bytes(b"x")  # not a CREMA-D name
    records, (reject,) = convert_all("cremad", tmp_path / "cremad")
    assert len(records) == 3 and reject.path.endswith("notes.wav") and "actor_sentence_emotion" in reject.reason
    FIXTURES["mosi"](tmp_path / "mosi2")
    rows = (tmp_path / "mosi2" / "label.csv")
    rows.write_text(rows.read_text().replace(",2.4,", ",good,", 1))
    records, (reject,) = convert_all("mosi", tmp_path / "mosi2")
    assert len(records) == 2 and reject.path.endswith("label.csv:2") and "'good' is not a sentiment score" in reject.reason
