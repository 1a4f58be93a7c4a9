"""Tiny copies of each dataset's published layout, generated in a tmp dir at test time: a few
rows of the real label files (same names, columns, encodings) and a few generated clips.

FIXTURES maps a converter name to a builder `build(root) -> Expected`.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from data_pipeline.tasks import format_empathy_answer
from data_pipeline.writer import write_audio, write_video

SR = 16_000


@dataclass
class Expected:
    count: int
    splits: dict[str, int]
    answers: set[str] = field(default_factory=set)  # some gold answers that must appear
    rejects: int = 0  # rows the converter lists as rejects (labels without a basic class, ...)


def clip(path: Path, audio: bool = True, seed: int = 0) -> Path:
    """A 0.5 s 64x48 clip (moving gradient; a tone when audio=True)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ramp = np.linspace(0, 255, 64, dtype=np.float32)
    frames = np.stack([np.tile(((ramp + 40 * t + 30 * seed) % 256)[None, :, None], (48, 1, 3)) for t in range(4)])
    tone = 0.2 * np.sin(2 * np.pi * (220 + 20 * seed) * np.arange(SR // 2) / SR) if audio else None
    write_video(path, frames.astype(np.uint8), fps=8, audio=tone)
    return path


def wav(path: Path, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_audio(path, 0.2 * np.sin(2 * np.pi * (200 + 30 * seed) * np.arange(SR // 2) / SR))
    return path


def text(path: Path, content: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding=encoding)
    return path


# Source: the MER2023 release on huggingface.co/datasets/MERChallenge/MER2023 as public loaders read
# it (mer2023train/train-label.csv + mer2023train/train/, test-labels/test{1,2,3}-label.csv,
# test1/, test2/, mer2023train/test3/; clips .avi), with the columns github.com/zeroQiaoba/MERTools
# MERBench/toolkit/preprocess/mer2023.py reads (name, discrete, valence; test3 without valence).
def build_mer2023(root: Path) -> Expected:
    text(root / "mer2023train" / "train-label.csv",
         "name,discrete,valence\nsample_00000001,happy,2.0\nsample_00000002,worried,-1.0\n")
    text(root / "test-labels" / "test1-label.csv", "name,discrete,valence\nsample_00003001,sad,-2.0\n")
    text(root / "test-labels" / "test2-label.csv", "name,discrete,valence\nsample_00004001,angry,-3.0\n")
    text(root / "test-labels" / "test3-label.csv", "name,discrete\nsample_00005001,surprise\n")
    for i, folder in enumerate(("mer2023train/train/sample_00000001", "mer2023train/train/sample_00000002",
                                "test1/sample_00003001", "test2/sample_00004001", "mer2023train/test3/sample_00005001")):
        clip(root / f"{folder}.avi", seed=i)
    return Expected(5, {"train": 2, "test": 3}, {"happy", "fearful", "sad", "angry", "surprised"})


# Source: the processed copy MER-UniBench / MERTools use (MERBench/config.py: label-6way.npz,
# video/, transcription-merge.csv for MER2024; the npz as MERBench/toolkit/preprocess/mer2023.py
# writes it: {train,test1,test2,test3}_corpus of name -> {emo, val}, val = -10 where there is none).
def build_mer2024(root: Path) -> Expected:
    corpus = {"train_corpus": {"sample_00000005": {"emo": "angry", "val": -3.0},
                               "sample_00000006": {"emo": "worried", "val": -1.0}},
              "test1_corpus": {"sample_00000007": {"emo": "sad", "val": -2.0}},
              "test3_corpus": {"sample_00000008": {"emo": "surprise", "val": -10}}}  # no valence, emotion stands
    root.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(root / "label-6way.npz", **corpus)
    for i in range(5, 9):
        clip(root / "video" / f"sample_0000000{i}.mp4", seed=i)
    text(root / "transcription-merge.csv",
         "name,chinese,english\nsample_00000005,你怎么又迟到了,Why are you late again\nsample_00000007,唉,Sigh\n")
    return Expected(4, {"train": 2, "test": 2}, {"angry", "fearful", "sad", "surprised"})


# Source: github.com/declare-lab/MELD README (MELD.Raw: {train,dev,test}_sent_emo.csv with these columns,
# train_splits/, dev_splits_complete/, output_repeated_splits_test/ of dia{D}_utt{U}.mp4); the same
# columns and names as github.com/zeroQiaoba/MERTools MERBench/toolkit/preprocess/meld.py reads.
MELD_COLUMNS = ["Sr No.", "Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID",
                "Season", "Episode", "StartTime", "EndTime"]


def build_meld(root: Path) -> Expected:
    base = root / "MELD.Raw"
    splits = {("train_sent_emo.csv", "train_splits"): [("Oh, look, wish me luck!", "Rachel", "joy", "positive", 0, 0),
                                                       ("What?", "Ross", "surprise", "negative", 0, 1),
                                                       ("I\u2019m fine.", "Monica", "sadness", "negative", 1, 0)],
              ("dev_sent_emo.csv", "dev_splits_complete"): [("Get out.", "Joey", "anger", "negative", 0, 0)],
              ("test_sent_emo.csv", "output_repeated_splits_test"): [("Okay.", "Phoebe", "neutral", "neutral", 0, 0)]}
    for seed, ((table, folder), rows) in enumerate(splits.items()):
        lines = io.StringIO()
        writer = csv.writer(lines)
        writer.writerow(MELD_COLUMNS)
        for number, (words, speaker, emotion, sentiment, dialogue, utterance) in enumerate(rows, 1):
            writer.writerow([number, words, speaker, emotion, sentiment, dialogue, utterance, 1, 1,
                             "00:16:45,504", "00:16:46,672"])
            clip(base / folder / f"dia{dialogue}_utt{utterance}.mp4", seed=seed)
        # MELD's CSVs are not valid UTF-8 (Windows-1252 apostrophes): keep that trait.
        text(base / table, lines.getvalue(), encoding="cp1252")
    return Expected(5, {"train": 3, "validation": 1, "test": 1}, {"happy", "surprised", "sad", "angry", "neutral"})


# Source: the IEMOCAP_full_release tree (sail.usc.edu/iemocap; Busso et al., LRE 2008):
# Session{n}/dialog/EmoEvaluation/<dialog>.txt ([start - end]\tturn\tcode\t[V, A, D] lines, evaluator
# lines below), dialog/transcriptions/<dialog>.txt, sentences/wav/<dialog>/<turn>.wav.
def _iemocap_session(root: Path, session: int, rows: list[tuple[str, str, str]]) -> None:
    dialog = f"Ses0{session}F_impro01"
    folder = root / "IEMOCAP_full_release" / f"Session{session}"
    lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"]
    transcript = []
    for i, (turn, code, words) in enumerate(rows):
        lines += [f"[{6.29 + 3 * i:.4f} - {8.23 + 3 * i:.4f}]\t{turn}\t{code}\t[2.5000, 2.5000, 2.5000]\n",
                  "C-E1:\tNeutral;\t()\nA-E3:\tval 3; act 2; dom  2;\t()\n\n"]
        transcript.append(f"{turn} [{6.29 + 3 * i:07.4f}-{8.23 + 3 * i:07.4f}]: {words}\n")
        wav(folder / "sentences" / "wav" / dialog / f"{turn}.wav", seed=i)
    text(folder / "dialog" / "EmoEvaluation" / f"{dialog}.txt", "".join(lines))
    text(folder / "dialog" / "transcriptions" / f"{dialog}.txt", "".join(transcript))


def build_iemocap(root: Path) -> Expected:
    _iemocap_session(root, 1, [("Ses01F_impro01_F000", "neu", "Excuse me."),
                               ("Ses01F_impro01_M000", "exc", "Yes, we did it!"),
                               ("Ses01F_impro01_F001", "fru", "This line again?")])  # fru: skipped
    _iemocap_session(root, 5, [("Ses05F_impro01_F000", "ang", "Leave me alone.")])
    return Expected(3, {"train": 2, "test": 1}, {"neutral", "happy", "angry"}, rejects=1)


# Source: github.com/thuiar/MMSA README (the released label.csv: video_id, clip_id, text, label,
# label_T, label_A, label_V, annotation, mode; clips Raw/<video_id>/<clip_id>.mp4; SIMS pads clip
# ids to 4 digits, CH-SIMS v2 (github.com/thuiar/ch-sims-v2) ships meta.csv).
def _mmsa(root: Path, table: str, rows: list[tuple], pad: bool) -> None:
    lines = ["video_id,clip_id,text,label,label_T,label_A,label_V,annotation,mode\n"]
    for i, (video_id, clip_id, words, score, annotation, mode) in enumerate(rows):
        lines.append(f'{video_id},{clip_id},"{words}",{score},{score},{score},{score},{annotation},{mode}\n')
        clip(root / "Raw" / video_id / f"{str(clip_id).zfill(4) if pad else clip_id}.mp4", seed=i)
    text(root / table, "".join(lines))


def build_mosi(root: Path) -> Expected:
    _mmsa(root, "label.csv", [("03bSnISJMiM", 1, "it was really good", 2.4, "Positive", "train"),
                              ("03bSnISJMiM", 2, "the plot was terrible", -1.2, "Negative", "valid"),
                              ("0h-zjBukYpk", 3, "it is a movie", 0.0, "Neutral", "test")], pad=False)
    return Expected(3, {"train": 1, "validation": 1, "test": 1}, {"positive", "negative", "neutral"})


def build_mosei(root: Path) -> Expected:
    _mmsa(root, "label.csv", [("-3g5yACwYnA", 0, "i loved it", 1.6667, "Positive", "train"),
                              ("-3g5yACwYnA", 1, "not worth it", -0.3333, "Negative", "test")], pad=False)
    return Expected(2, {"train": 1, "test": 1}, {"positive", "negative"})


def build_sims(root: Path) -> Expected:
    _mmsa(root, "label.csv", [("video_0001", 1, "我真的很喜欢这个", 0.8, "Positive", "train"),
                              ("video_0001", 2, "这太让人失望了", -0.6, "Negative", "test")], pad=True)
    return Expected(2, {"train": 1, "test": 1}, {"positive", "negative"})


def build_simsv2(root: Path) -> Expected:
    _mmsa(root, "meta.csv", [("aqgy3_0001", "00000", "还行吧", 0.0, "Neutral", "train"),
                             ("aqgy3_0001", "00001", "太棒了", 1.0, "Positive", "valid")], pad=False)
    return Expected(2, {"train": 1, "validation": 1}, {"neutral", "positive"})


# Source: dfew-dataset.github.io (EmoLabel_DataSplit/{train,test}(single-labeled)/set_<k>.csv with
# video_name,label 1-7 = happy, sad, neutral, angry, surprise, disgust, fear; Clip/original/NNNNN.mp4).
def build_dfew(root: Path) -> Expected:
    splits = root / "EmoLabel_DataSplit"
    text(splits / "train(single-labeled)" / "set_1.csv", "video_name,label\n1,1\n2,4\n")
    text(splits / "test(single-labeled)" / "set_1.csv", "video_name,label\n3,7\n")
    for i in range(1, 4):
        clip(root / "Clip" / "original" / f"{i:05d}.mp4", audio=False, seed=i)
    return Expected(3, {"train": 2, "test": 1}, {"happy", "angry", "fearful"})


# Source: mafw-database.github.io/MAFW (Train & Test Set/single/no_caption/set_<k>/{train,test}.txt
# lines "00025.mp4 anger"; data/clips/).
def build_mafw(root: Path) -> Expected:
    split = root / "Train & Test Set" / "single" / "no_caption" / "set_1"
    text(split / "train.txt", "00025.mp4 anger\n00026.mp4 contempt\n")
    text(split / "test.txt", "00027.mp4 helplessness\n")
    for i, name in enumerate(("00025", "00026", "00027")):
        clip(root / "data" / "clips" / f"{name}.mp4", seed=i)
    return Expected(3, {"train": 2, "test": 1}, {"angry", "disgusted", "sad"})


# Source: wangyanckxx.github.io/Proj_CVPR2022_FERV39k.html (4_setups/All_scenes/{train,test}_All.csv
# of "scene/Emotion/clip Emotion"; 2_ClipsforFaceCrop/<clip>/NNNN.jpg frames).
def build_ferv39k(root: Path) -> Expected:
    setups = root / "4_setups" / "All_scenes"
    text(setups / "train_All.csv", "Action/Angry/0001 Angry\n")
    text(setups / "test_All.csv", "Daily/Happy/0002 Happy\n")
    for clip_dir in ("Action/Angry/0001", "Daily/Happy/0002"):
        folder = root / "2_ClipsforFaceCrop" / clip_dir
        folder.mkdir(parents=True)
        for k in range(3):
            cv2.imwrite(str(folder / f"{k:04d}.jpg"), np.full((32, 32, 3), 60 * k, np.uint8))
    return Expected(2, {"train": 1, "test": 1}, {"angry", "happy"})


# Source: caer-dataset.github.io (CAER/{train,validation,test}/<Emotion>/NNNN.avi).
def build_caer(root: Path) -> Expected:
    for i, (split, emotion) in enumerate((("train", "Anger"), ("train", "Happy"), ("validation", "Sad"),
                                          ("test", "Neutral"))):
        clip(root / "CAER" / split / emotion / f"{i + 1:04d}.avi", seed=i)
    return Expected(4, {"train": 2, "validation": 1, "test": 1}, {"angry", "happy", "sad", "neutral"})


# Source: github.com/CheyneyComputerScience/CREMA-D README (AudioWAV/<actor>_<sentence>_<emotion>_<level>.wav,
# VideoFlash/*.flv; no official split).
def build_cremad(root: Path) -> Expected:
    for i, name in enumerate(("1001_DFA_ANG_XX", "1008_IEO_HAP_HI", "1009_TIE_SAD_LO")):
        wav(root / "AudioWAV" / f"{name}.wav", seed=i)
    clip(root / "VideoFlash" / "1001_DFA_ANG_XX.flv")
    return Expected(3, {"train": 1, "validation": 1, "test": 1}, {"angry", "happy", "sad"})


# Source: github.com/aim3-ruc/RUCM3ED README (annotation.json: movie -> dialog -> utterance with
# Speaker, Text, StartTime, EndTime, EmoAnnotation.final_main_emo; splitInfo/movie_list_*.txt).
def build_m3ed(root: Path) -> Expected:
    def utterance(speaker, words, emotion):
        return {"Speaker": speaker, "Text": words, "StartTime": "00:00:01.000", "EndTime": "00:00:02.000",
                "EmoAnnotation": {"final_main_emo": emotion, "final_mul_emo": emotion}}
    annotation = {
        "anjia": {"anjia_1": {"SpeakerInfo": {"A": {"Name": "房似锦"}, "B": {"Name": "徐姑姑"}},
                              "Dialog": {"anjia_1_1": utterance("A", "你好", "Neutral"),
                                         "anjia_1_2": utterance("B", "太好了!", "Happy")}}},
        "huanlesong": {"huanlesong_1": {"SpeakerInfo": {"A": {"Name": "安迪"}},
                                        "Dialog": {"huanlesong_1_1": utterance("A", "你走吧", "Anger")}}}}
    text(root / "annotation.json", json.dumps(annotation, ensure_ascii=False))
    text(root / "splitInfo" / "movie_list_train.txt", "anjia\n")
    text(root / "splitInfo" / "movie_list_test.txt", "huanlesong\n")
    for i, stem in enumerate(("A_anjia_1_1", "B_anjia_1_2", "A_huanlesong_1_1")):
        wav(root / "modality_speech" / f"{stem}.wav", seed=i)
    return Expected(3, {"train": 2, "test": 1}, {"neutral", "happy", "angry"})


# Source: github.com/thuiar/MIntRec README ({train,dev,test}.tsv: season, episode, clip, text, label;
# raw_video/<season>/<episode>/<clip>.mp4).
def build_mintrec(root: Path) -> Expected:
    header = "season\tepisode\tclip\ttext\tlabel\n"
    for i, (split, row) in enumerate((("train", "S04\tE01\t1\tthank you so much\tThank"),
                                      ("dev", "S04\tE01\t2\thello everyone\tGreet"),
                                      ("test", "S05\tE02\t7\tplease stop\tPrevent"))):
        text(root / f"{split}.tsv", header + row + "\n")
        season, episode, number = row.split("\t")[:3]
        clip(root / "raw_video" / season / episode / f"{number}.mp4", seed=i)
    return Expected(3, {"train": 1, "validation": 1, "test": 1}, {"thank", "greet", "prevent"})


# Source: github.com/thuiar/MIntRec2.0 README (in-scope/{train,dev,test}.tsv: Dialogue_id,
# Utterance_id, Text, Label, Start_time, End_time; clips dia{D}_utt{U}.mp4).
def build_mintrec2(root: Path) -> Expected:
    header = "Dialogue_id\tUtterance_id\tText\tLabel\tStart_time\tEnd_time\n"
    text(root / "in-scope" / "train.tsv", header + "1\t0\tthanks man\tThank\t0\t1\n1\t1\tbecause it rained\tExplain\t1\t2\n")
    text(root / "in-scope" / "dev.tsv", header + "2\t0\thi there\tGreet\t0\t1\n")
    text(root / "in-scope" / "test.tsv", header + "3\t0\tthe store opens at nine\tInform\t0\t1\n")
    for i, stem in enumerate(("dia1_utt0", "dia1_utt1", "dia2_utt0", "dia3_utt0")):
        clip(root / "raw_video" / f"{stem}.mp4", seed=i)
    return Expected(3, {"train": 1, "validation": 1, "test": 1}, {"thank", "greet", "inform"}, rejects=1)


# Source: the MER2025 release tree drawn in github.com/zeroQiaoba/MERTools
# MER2025/MER2025_Track23/README.md (video/, audio/, subtitle_chieng.csv, track2_train_*.csv with
# name,openset and track3_train_*.csv with name,reason) and its loader
# my_affectgpt/datasets/datasets/ovmerd_dataset.py (an empty openset reads as neutral).
def build_ovmerd(root: Path) -> Expected:
    text(root / "track2_train_ovmerd.csv", "name,openset\nsamplenew3_00000001,\"['happy', 'relieved']\"\n"
                                           "samplenew3_00000002,\"['angry', 'disappointed']\"\n"
                                           "samplenew3_00000003,[]\n")
    text(root / "track3_train_ovmerd.csv", "name,reason\n"
         "samplenew3_00000001,\"In the video, she smiles and her voice rises; she feels happy and relieved.\"\n"
         "samplenew3_00000002,\"He frowns and raises his voice, so he is angry and disappointed.\"\n"
         "samplenew3_00000003,\"Her face and tone stay calm; she seems neutral.\"\n")
    text(root / "track2_train_mercaptionplus.csv", "name,openset\nsample_00100001,\"['sad']\"\n")
    text(root / "subtitle_chieng.csv", "name,chinese,english\nsamplenew3_00000001,终于结束了,It's finally over\n"
                                       "samplenew3_00000002,你又迟到了,You're late again\n")
    for i in (1, 2, 3):
        clip(root / "video" / f"samplenew3_0000000{i}.mp4", seed=i)
        wav(root / "audio" / f"samplenew3_0000000{i}.wav", seed=i)
    clip(root / "video" / "sample_00100001.mp4", seed=4)
    return Expected(6, {"test": 6}, {"happy, relieved", "angry, disappointed", "neutral",
                                     "He frowns and raises his voice, so he is angry and disappointed."})


# Source: AvaMERG on huggingface.co/datasets/ZhangHanXD/AvaMERG as public loaders read it
# (github.com/eccentricman/AvaMERG-Pipeline merg_code/scripts/download_avamerge.py): split JSONs
# and one flat media folder of dia{conversation_id:05d}utt{k}_{speaker/listener id}.mp4 / .wav, k the
# 0-based utterance index; dialogue_history roles speaker / listener; chain_of_empathy's four fields.
def _ava_turn(history: list[str], response: str, emotion: str) -> dict:
    return {"dialogue_history": [{"role": "speaker" if i % 2 == 0 else "listener", "utterance": u}
                                 for i, u in enumerate(history)],
            "response": response,
            "chain_of_empathy": {"event_scenario": "Lost a job", "speaker_emotion": emotion,
                                 "emotion_cause": "The company closed", "goal_to_response": "Comfort and encourage"}}


def build_avamerg(root: Path) -> Expected:
    profile = {"speaker_profile": {"ID": "s017", "age": "young", "gender": "female"},
               "listener_profile": {"ID": "l004", "age": "adult", "gender": "male"}}
    train = [{"conversation_id": "00012", "topic": "work", **profile,
              "turns": [_ava_turn(["I lost my job today."], "I'm so sorry, that's hard.", "sad"),
                        _ava_turn(["I lost my job today.", "I'm so sorry.", "I don't know what to do."],
                                  "Let's think about it together.", "anxious")]}]
    test = [{"conversation_id": "00040", "topic": "school", **profile,
             "turns": [_ava_turn(["I passed the exam!"], "Congratulations!", "joyful")]}]
    text(root / "train.json", json.dumps(train))
    text(root / "test.json", json.dumps(test))
    utterances = {(12, 0): "s017", (12, 1): "l004", (12, 2): "s017", (40, 0): "s017"}
    for i, ((dialogue, k), who) in enumerate(utterances.items()):
        clip(root / "media" / f"dia{dialogue:05d}utt{k}_{who}.mp4", seed=i)
        wav(root / "media" / f"dia{dialogue:05d}utt{k}_{who}.wav", seed=i)
    congratulations = format_empathy_answer("Lost a job", "joyful", "The company closed", "Comfort and encourage",
                                            "Congratulations!")
    return Expected(3, {"train": 2, "test": 1}, {congratulations})


# Source: github.com/facebookresearch/EmpatheticDialogues (empatheticdialogues.tar.gz: {train,valid,test}.csv
# with this header, commas inside text written "_comma_", as the authors' loader splits rows on ",").
ED_HEADER = "conv_id,utterance_idx,context,prompt,speaker_idx,utterance,selfeval,tags\n"


def build_empathetic_dialogues(root: Path) -> Expected:
    base = root / "empatheticdialogues"
    text(base / "train.csv", ED_HEADER +
         "hit:0_conv:1,1,sentimental,I remember going to the fireworks with my best friend_comma_ ...,1,"
         "I remember going to see the fireworks with my best friend.,5|5|5_2|2|5,\n"
         "hit:0_conv:1,2,sentimental,I remember going to the fireworks ...,0,Was this a friend you were in love with?,5|5|5_2|2|5,\n"
         "hit:0_conv:1,3,sentimental,I remember going to the fireworks ...,1,This was a best friend. I miss her.,5|5|5_2|2|5,\n"
         "hit:0_conv:1,4,sentimental,I remember going to the fireworks ...,0,Where has she gone?,5|5|5_2|2|5,\n")
    text(base / "valid.csv", ED_HEADER + "hit:3_conv:6,1,terrified,A storm,1,The storm was so loud_comma_ I hid.,,\n"
                                         "hit:3_conv:6,2,terrified,A storm,0,That sounds scary!,,\n")
    text(base / "test.csv", ED_HEADER + "hit:9_conv:19,1,proud,My son graduated,1,My son graduated today!,,\n"
                                        "hit:9_conv:19,2,proud,My son graduated,0,You must be so proud!,,\n")
    return Expected(4, {"train": 2, "validation": 1, "test": 1}, {"That sounds scary!", "Where has she gone?"})


FIXTURES = {name.removeprefix("build_"): builder for name, builder in globals().items()
            if name.startswith("build_") and callable(builder)}
