"""Media readers: the one place where clips are decoded (the processor, training, evaluation and
serving all call these).

* video frames are read by index with decord (uniform or fps-based sampling; no full decode),
  with a PyAV reader behind the same interface where decord has no wheel or fails;
* audio is read at 16 kHz mono (decord, else PyAV's resampler);
* images through PyAV/Pillow.

Anything that can't be decoded raises `MediaError` naming the file and the reason.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from data_pipeline.clip import media_kind
from data_pipeline.errors import MediaError

logger = logging.getLogger(__name__)

AUDIO_SAMPLE_RATE = 16_000


@dataclass
class MediaInfo:
    """What a file holds, read from its container headers (no decoding)."""

    path: str
    has_video: bool
    has_audio: bool
    duration: float
    fps: float | None = None
    width: int | None = None
    height: int | None = None
    num_frames: int | None = None
    is_image: bool = False
    video_codec: str | None = None
    audio_codec: str | None = None
    sample_rate: int | None = None  # of the audio track as stored (readers resample to 16 kHz)
    checked: bool = False  # True once check_media decoded a frame / some audio and found the tail


@dataclass
class VideoClip:
    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    indices: list[int]
    timestamps: list[float]
    fps: float
    sampling: dict = field(default_factory=dict)


def _check_file(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.exists():
        raise MediaError(path, "file not found")
    if path.is_dir():
        raise MediaError(path, "is a directory, not a media file")
    if path.stat().st_size == 0:
        raise MediaError(path, "empty file (0 bytes)")
    return path


def is_image_path(path: str | os.PathLike) -> bool:
    return media_kind(path) == "image"


def probe(path: str | os.PathLike) -> MediaInfo:
    """Read stream headers; raise MediaError when the file holds no decodable stream.
    Headers only: a truncated file with an intact index passes here; `check_media` catches it."""
    import av

    path = _check_file(path)
    if is_image_path(path):
        image = read_image(path)
        return MediaInfo(str(path), True, False, 0.0, None, image.shape[1], image.shape[0], 1, True,
                         checked=True)
    try:
        with av.open(str(path)) as container:
            video, audio = _main_streams(container)
            if video is None and audio is None:
                raise MediaError(path, "no video or audio stream")
            info = MediaInfo(str(path), video is not None, audio is not None,
                             _container_duration(container, video, audio))
            if video is not None:
                _fill_video_info(info, video)
            if audio is not None:
                info.audio_codec = audio.codec_context.name
                info.sample_rate = audio.rate
    except MediaError:
        raise
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as error:
        raise MediaError(path, _open_failure_reason(path, error)) from None
    if info.duration <= 0 and not info.num_frames:
        raise MediaError(path, "zero length")
    return info


def _main_streams(container):
    """The first real video stream (cover art in music files is not video) and the first audio."""
    import av

    videos = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    audios = list(container.streams.audio)
    return (videos[0] if videos else None), (audios[0] if audios else None)


def _fill_video_info(info: MediaInfo, video) -> None:
    rate = video.average_rate or video.guessed_rate or 0
    info.fps = float(rate) if rate else None
    info.width = video.codec_context.width
    info.height = video.codec_context.height
    info.video_codec = video.codec_context.name
    frames = video.frames or (int(round(info.duration * info.fps)) if info.fps else 0)
    info.num_frames = int(frames)


def _open_failure_reason(path: Path, error: Exception) -> str:
    with open(path, "rb") as handle:
        head = handle.read(12)
    if head[4:8] == b"ftyp":
        # An MP4 header but no readable index: the usual result of an interrupted download/copy.
        return "truncated or damaged MP4 (no readable 'moov' index)"
    detail = getattr(error, "strerror", None) or str(error)
    return f"not a media file, or damaged ({detail})"


def check_media(path: str | os.PathLike) -> MediaInfo:
    """`probe`, then prove the streams decode: one video frame, some audio, and the stream tails
    present (a truncated file whose index survived is rejected here, at prepare time)."""
    import av

    info = probe(path)
    if info.is_image:
        return info
    try:
        with av.open(info.path) as container:
            video, audio = _main_streams(container)
            for stream, kind in ((video, "video"), (audio, "audio")):
                if stream is None:
                    continue
                _check_tail(container, stream, kind, info.path)  # first: the clearer reason for a cut file
                _decode_one(container, stream, kind, info.path)
    except MediaError:
        raise
    except (av.error.FFmpegError, ValueError) as error:
        raise MediaError(info.path, f"can't be decoded ({getattr(error, 'strerror', None) or error})") from None
    info.checked = True
    return info


def _decode_one(container, stream, kind: str, path: str) -> None:
    import av

    container.seek(0)
    try:
        for _ in container.decode(stream):
            return
    except av.error.FFmpegError as error:
        raise MediaError(path, f"{kind} stream can't be decoded ({getattr(error, 'strerror', None) or error})") from None
    raise MediaError(path, f"{kind} stream holds no decodable {'frame' if kind == 'video' else 'samples'}")


def _check_tail(container, stream, kind: str, path: str) -> None:
    """Demux (no decoding) the last seconds: a cut-off file stops before its index says it ends."""
    if not stream.duration or not stream.time_base:
        return  # no per-stream length to compare against (e.g. some mkv/webm)
    start = stream.start_time or 0
    end = start + stream.duration
    container.seek(max(end - int(2 / stream.time_base), start), stream=stream, backward=True, any_frame=False)
    last_end, step = None, 0
    for packet in container.demux(stream):
        if packet.size and packet.pts is not None:
            step = max(step, packet.duration or 0)
            last_end = max(last_end or 0, packet.pts + (packet.duration or 0))
    seconds = float((end - start) * stream.time_base)
    reached = float(((last_end or start) - start) * stream.time_base)
    tolerance = max(float(2 * step * stream.time_base), 0.02 * seconds)
    if seconds - reached > tolerance:
        raise MediaError(path, f"truncated: the {kind} stream stops at {reached:.2f}s of {seconds:.2f}s")


def _container_duration(container, video, audio) -> float:
    if container.duration:
        return container.duration / 1_000_000
    for stream in (video, audio):
        if stream is not None and stream.duration and stream.time_base:
            return float(stream.duration * stream.time_base)
    return 0.0


def sample_indices(total_frames: int, num_frames: int, fps: float | None = None,
                   sample_fps: float | None = None) -> list[int]:
    """Uniform sampling: the centre of each of `num_frames` equal segments. With `sample_fps`,
    one frame every 1/sample_fps seconds, capped at `num_frames` (uniform over those)."""
    if total_frames <= 0:
        return []
    if sample_fps and fps:
        step = max(fps / sample_fps, 1.0)
        candidates = np.arange(step / 2, total_frames, step)
        if len(candidates) > num_frames:
            candidates = candidates[np.linspace(0, len(candidates) - 1, num_frames).round().astype(int)]
        return [min(int(c), total_frames - 1) for c in candidates]
    edges = np.linspace(0, total_frames, num_frames + 1)
    centres = ((edges[:-1] + edges[1:]) / 2).astype(int)
    return [min(int(c), total_frames - 1) for c in centres]


def read_frames(path: str | os.PathLike, num_frames: int = 8, *, sample_fps: float | None = None,
                max_side: int | None = None, backend: str = "auto") -> VideoClip:
    """Decode only the sampled frames of a video (or the single frame of an image).

    backend: "auto" (decord, PyAV if decord is missing or refuses the file), "decord", "pyav",
    "pyav-fast" (PyAV skipping non-reference frames) or "pyav-skip-bframes" (skipping all
    B-frames): the nearest decoded frame stands in for a skipped one; see
    benchmarks/decode_speed.py for when they win."""
    path = _check_file(path)
    if is_image_path(path):
        image = read_image(path)
        return VideoClip(image[None], [0], [0.0], 0.0, {"method": "image"})
    if backend != "auto":
        if backend not in FRAME_BACKENDS:
            raise ValueError(f"unknown frame backend {backend!r}; known: auto, {', '.join(FRAME_BACKENDS)}")
        return _resize_clip(FRAME_BACKENDS[backend](path, num_frames, sample_fps), max_side)
    try:
        clip = _read_frames_decord(path, num_frames, sample_fps)
    except ImportError:
        clip = _read_frames_pyav(path, num_frames, sample_fps)
    except MediaError as error:
        # decord refuses some valid files (odd codecs, variable fps); PyAV has the final word.
        logger.debug("decord failed on %s (%s); trying PyAV", path, error.reason)
        clip = _read_frames_pyav(path, num_frames, sample_fps)
    return _resize_clip(clip, max_side)


def _read_frames_decord(path: Path, num_frames: int, sample_fps: float | None) -> VideoClip:
    import decord

    try:
        reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)
        total = len(reader)
        fps = float(reader.get_avg_fps() or 0.0)
        indices = sample_indices(total, num_frames, fps, sample_fps)
        if not indices:
            raise MediaError(path, "video stream has no frames")
        frames = reader.get_batch(indices).asnumpy()
    except (decord.DECORDError, RuntimeError) as error:  # decord raises both for unreadable input
        raise MediaError(path, f"video can't be decoded ({str(error).splitlines()[0][:200]})") from None
    timestamps = [i / fps if fps else 0.0 for i in indices]
    return VideoClip(frames, indices, timestamps, fps,
                     {"backend": "decord", "method": "fps" if sample_fps else "uniform",
                      "num_frames": num_frames, "sample_fps": sample_fps})


def _read_frames_pyav(path: Path, num_frames: int, sample_fps: float | None,
                      skip_frame: str | None = None) -> VideoClip:
    """Decode sequentially and keep, for each sample time, the decoded frame nearest to it
    (PyAV has no index seek; with `skip_frame` some frames are never decoded)."""
    info = probe(path)
    if not info.has_video:
        raise MediaError(path, "no video stream")
    import av

    fps = info.fps or 25.0
    total = info.num_frames or max(int(info.duration * fps), 1)
    wanted = sample_indices(total, num_frames, fps, sample_fps)
    targets = np.array(wanted, dtype=np.float64) / fps
    best: list[tuple[float, float, np.ndarray] | None] = [None] * len(wanted)  # (distance, time, frame)
    try:
        with av.open(str(path)) as container:
            stream = _main_streams(container)[0]
            stream.thread_type = "AUTO"
            if skip_frame:
                stream.codec_context.skip_frame = skip_frame
            start = float((stream.start_time or 0) * stream.time_base) if stream.time_base else 0.0
            for frame in container.decode(stream):
                time = (frame.time - start) if frame.time is not None else 0.0
                _keep_nearest(best, targets, time, frame)
                if time >= targets[-1] + 0.5 / fps:
                    break
    except av.error.FFmpegError as error:
        if all(b is None for b in best):
            raise MediaError(path, f"video can't be decoded ({getattr(error, 'strerror', None) or error})") from None
    if any(b is None for b in best):
        raise MediaError(path, "video stream has no frames")
    indices = [int(round(b[1] * fps)) for b in best]
    frames = np.stack([b[2] if isinstance(b[2], np.ndarray) else b[2].to_ndarray(format="rgb24") for b in best])
    return VideoClip(frames, indices, [b[1] for b in best], fps,
                     {"backend": "pyav", "skip_frame": skip_frame,
                      "method": "fps" if sample_fps else "uniform",
                      "num_frames": num_frames, "sample_fps": sample_fps})


def _keep_nearest(best: list, targets: np.ndarray, time: float, frame) -> None:
    """Frames are converted to RGB lazily: only those still nearest at the end are."""
    distances = np.abs(targets - time)
    for i, distance in enumerate(distances):
        if best[i] is None or distance < best[i][0]:
            best[i] = (float(distance), time, frame)


def _pyav_skipping(skip_frame: str):
    def read(path: Path, num_frames: int, sample_fps: float | None) -> VideoClip:
        return _read_frames_pyav(path, num_frames, sample_fps, skip_frame=skip_frame)
    return read


# "auto" stays decord: its cost grows with the GOP, PyAV's with the clip length (long clips
# with frequent keyframes favour decord; 10 s clips with one keyframe favour skipping).
FRAME_BACKENDS = {
    "decord": _read_frames_decord,
    "pyav": _read_frames_pyav,
    "pyav-fast": _pyav_skipping("NONREF"),  # skip non-reference frames
    "pyav-skip-bframes": _pyav_skipping("BIDIR"),  # skip every B-frame: fastest, frames up to ~2 apart
}


def _resize_clip(clip: VideoClip, max_side: int | None) -> VideoClip:
    """Downscale huge frames early (keeps memory bounded for 4K input)."""
    if not max_side or max(clip.frames.shape[1:3]) <= max_side:
        return clip
    import cv2

    height, width = clip.frames.shape[1:3]
    scale = max_side / max(height, width)
    size = (max(int(width * scale), 1), max(int(height * scale), 1))
    clip.frames = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in clip.frames])
    return clip


def read_audio(path: str | os.PathLike, sample_rate: int = AUDIO_SAMPLE_RATE,
               max_seconds: float | None = None) -> np.ndarray:
    """Mono float32 waveform at `sample_rate`; MediaError when the file has no audio track."""
    path = _check_file(path)
    try:
        import decord

        try:
            reader = decord.AudioReader(str(path), sample_rate=sample_rate, mono=True)
            waveform = reader[:].asnumpy().reshape(-1).astype(np.float32)
            if waveform.size:
                return waveform[: int(max_seconds * sample_rate)] if max_seconds else waveform
        except (decord.DECORDError, RuntimeError, IndexError) as error:
            logger.debug("decord audio failed on %s (%s); trying PyAV", path, error)
    except ImportError:
        pass
    return _read_audio_pyav(path, sample_rate, max_seconds)


def _read_audio_pyav(path: Path, sample_rate: int, max_seconds: float | None) -> np.ndarray:
    import av

    chunks: list[np.ndarray] = []
    limit = int(max_seconds * sample_rate) if max_seconds else None
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise MediaError(path, "no audio track")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
            for frame in container.decode(container.streams.audio[0]):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
                if limit and sum(c.size for c in chunks) >= limit:
                    break
    except MediaError:
        raise
    except (av.error.FFmpegError, ValueError) as error:
        if not chunks:
            raise MediaError(path, f"audio can't be decoded ({error})") from None
    if not chunks:
        raise MediaError(path, "audio track is empty")
    waveform = np.concatenate(chunks).astype(np.float32)
    return waveform[:limit] if limit else waveform


def read_image(path: str | os.PathLike) -> np.ndarray:
    """RGB uint8 (H, W, 3)."""
    import av

    path = _check_file(path)
    try:
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0))
            return frame.to_ndarray(format="rgb24")
    except (av.error.FFmpegError, StopIteration, IndexError) as error:
        raise MediaError(path, f"image can't be decoded ({error})") from None
