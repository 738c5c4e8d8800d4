"""Video files: tensor <-> uint8 frames, MP4/WebM/AVI/GIF/PNG-grid writers and a PyAV reader.

A video is a ``(C, T, H, W)`` float tensor in [-1, 1] (C=3, or C=1 for gray, shown as RGB);
a batch is ``(B, C, T, H, W)``. Writers are atomic: they write a hidden temp file next to
``path`` and ``os.replace`` it, so a crash never leaves a half-written file at ``path``.

Damaged files: a truncated MP4/MOV (index at the end) cannot be opened and raises
VideoDecodeError; truncated streaming formats (WebM, AVI, GIF) decode to the frames before
the cut, as FFmpeg reports no error for them.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import math
import os
import warnings
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from PIL import Image

from cinediff.weights import atomic_path

# suffix -> (container format, encoders in order of preference); all encode yuv420p.
_CONTAINERS = {
    ".mp4": ("mp4", ("libx264", "h264", "mpeg4")),
    ".mov": ("mov", ("libx264", "h264", "mpeg4")),
    ".webm": ("webm", ("libvpx-vp9", "libvpx")),
    ".avi": ("avi", ("mpeg4", "libx264")),
}
_CRF_CODECS = {"libx264": {}, "libvpx-vp9": {"b": "0"}}  # constant-quality mode; extra options
_EPS = 1e-4  # s; container timestamps are rounded to their time base

if TYPE_CHECKING:
    import av


@functools.cache
def pyav():
    """PyAV, imported on first use: GIF and PNG files (and everything that is not mp4) need no FFmpeg."""
    import av

    return av


class VideoDecodeError(RuntimeError):
    """A video file could not be opened or decoded, or holds no frames for the request."""

    def __init__(self, path: str | os.PathLike, reason: str):
        super().__init__(str(path), reason)  # args stay (path, reason): picklable
        self.path, self.reason = Path(path), reason

    def __str__(self) -> str:
        return f"cannot decode video {self.path}: {self.reason}"


def to_uint8_frames(video: torch.Tensor) -> np.ndarray:
    """``(C, T, H, W)`` in [-1, 1], C in {1, 3} -> ``(T, H, W, 3)`` uint8 (round, clamp)."""
    if video.ndim != 4 or video.shape[0] not in (1, 3):
        raise ValueError(f"expected a (C, T, H, W) video with C in (1, 3), got {tuple(video.shape)}")
    x = ((video.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return np.ascontiguousarray(x.expand(3, -1, -1, -1).permute(1, 2, 3, 0).numpy())


def from_uint8_frames(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    """``(T, H, W, C)`` (or gray ``(T, H, W)``) uint8 -> ``(C, T, H, W)`` float32 in [-1, 1]."""
    x = torch.as_tensor(np.asarray(frames))
    x = x[..., None] if x.ndim == 3 else x
    return x.permute(3, 0, 1, 2).float() / 127.5 - 1


def make_grid(videos: torch.Tensor | Sequence[torch.Tensor], nrow: int | None = None,
              padding: int = 2, pad_value: float = -1.0) -> torch.Tensor:
    """Tile B same-shape videos into one ``(3, T, H', W')`` video, like ``torchvision.make_grid``.

    ``nrow`` videos per row (default ``ceil(sqrt(B))``); ``padding`` pixels of ``pad_value``
    (default -1: black) around and between cells; empty cells are ``pad_value`` too.
    H' = rows * (H + padding) + padding, W' = nrow * (W + padding) + padding.
    """
    x = torch.stack([v.expand(3, -1, -1, -1) for v in videos])  # (B, 3, T, H, W)
    ncol = min(nrow or math.ceil(math.sqrt(len(x))), len(x))
    nrows = math.ceil(len(x) / ncol)
    x = torch.cat([x, x.new_full((nrows * ncol - len(x), *x.shape[1:]), pad_value)])
    x = F.pad(x, (padding, 0, padding, 0), value=pad_value)  # top/left of every cell
    x = rearrange(x, "(r c) ch t h w -> ch t (r h) (c w)", r=nrows)
    return F.pad(x, (0, padding, 0, padding), value=pad_value)  # bottom/right border


@functools.cache
def _encoder(suffix: str) -> str:
    """First encoder for ``suffix`` that this PyAV build has; warns on a fallback."""
    wanted = _CONTAINERS[suffix][1]
    for name in wanted:
        with contextlib.suppress(pyav().FFmpegError, ValueError):  # UnknownCodecError is a ValueError
            pyav().Codec(name, "w")
            if name != wanted[0]:
                warnings.warn(f"{wanted[0]} encoder not in this PyAV build; writing {suffix} with {name}")
            return name
    raise RuntimeError(f"no encoder for {suffix} in this PyAV build (tried {', '.join(wanted)})")


def _write_encoded(path: str | os.PathLike, video: torch.Tensor, fps: float, crf: int,
                   pad_to_even: bool, suffix: str) -> None:
    """Encode with PyAV into the container for ``suffix`` (a ``_CONTAINERS`` key), yuv420p."""
    frames = to_uint8_frames(video)
    _, h, w, _ = frames.shape
    if h % 2 or w % 2:
        if not pad_to_even:
            raise ValueError(f"yuv420p needs an even frame size, got H x W = {h} x {w}; pass pad_to_even=True")
        frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    codec = _encoder(suffix)
    with atomic_path(path) as tmp, pyav().open(tmp, "w", format=_CONTAINERS[suffix][0]) as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        if codec in _CRF_CODECS:
            stream.options = {"crf": str(crf), **_CRF_CODECS[codec]}
        else:  # bitrate codecs: ~1 bit per pixel is near-transparent for MPEG-4 part 2
            stream.bit_rate = int(frames[0].size / 3 * fps)
        for frame in frames:
            container.mux(stream.encode(pyav().VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())  # flush


def write_mp4(path: str | os.PathLike, video: torch.Tensor, fps: float = 8, crf: int = 18,
              pad_to_even: bool = True) -> None:
    """Write ``(C, T, H, W)`` in [-1, 1] as H.264 MP4 (yuv420p; ``crf`` 0 best .. 51 worst).

    yuv420p needs even H and W: ``pad_to_even`` replicates the last row/column, else ValueError.
    """
    _write_encoded(path, video, fps, crf, pad_to_even, ".mp4")


def write_gif(path: str | os.PathLike, video: torch.Tensor, fps: float = 8, loop: int = 0) -> None:
    """Write ``(C, T, H, W)`` in [-1, 1] as an animated GIF (Pillow, 256-color palette per frame).

    ``loop=0`` loops forever. GIF delays are whole centiseconds, so per-frame delays alternate
    (e.g. 12/13 cs at 8 fps) to keep frame k at ~k/fps. Pillow merges identical consecutive
    frames into one longer frame: read with ``fps=`` to get the original frame count back.
    """
    images = [Image.fromarray(f) for f in to_uint8_frames(video)]
    ticks = np.round(np.arange(len(images) + 1) * 100 / fps)  # frame start times, cs
    durations = [int(d) * 10 for d in np.diff(ticks)]  # ms, multiples of 10
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                       duration=durations, loop=loop)


def write_frame_grid_png(path: str | os.PathLike, video: torch.Tensor, max_frames: int = 16,
                         nrow: int = 8, padding: int = 2) -> None:
    """Write a PNG of up to ``max_frames`` evenly spaced frames, ``nrow`` frames per row."""
    idx = torch.linspace(0, video.shape[1] - 1, min(max_frames, video.shape[1])).round().long()
    frames = rearrange(video[:, idx], "c n h w -> n c 1 h w")
    image = to_uint8_frames(make_grid(frames, nrow=min(nrow, len(idx)), padding=padding))[0]
    with atomic_path(path) as tmp:
        Image.fromarray(image).save(tmp, format="PNG")


VIDEO_SUFFIXES = (*_CONTAINERS, ".gif", ".png")


def check_output_path(path: str | os.PathLike) -> Path:
    """``path`` if :func:`write_video` can write it (a known suffix, not a folder), else one clear
    ValueError: check before spending minutes on sampling."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"output {path} is a directory; give a file name such as {path / 'out.mp4'}")
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise ValueError(f"unsupported video suffix {path.suffix!r} in {path} (use {' '.join(VIDEO_SUFFIXES)})")
    return path


def write_video(path: str | os.PathLike, video: torch.Tensor, fps: float = 8,
                metadata: dict | None = None) -> list[Path]:
    """Write a video by suffix: .mp4/.mov/.webm/.avi (encoded), .gif, or .png (frame grid).

    A ``(B, C, T, H, W)`` batch is tiled with :func:`make_grid` first. With ``metadata``
    (prompt, seed, config...) also writes ``<stem>.json`` next to the file with the metadata
    plus ``fps`` and ``shape`` (the written tensor's ``[C, T, H, W]``). Returns written paths.
    """
    path = Path(path)
    video = make_grid(video) if video.ndim == 5 else video
    suffix = path.suffix.lower()
    if suffix in _CONTAINERS:
        _write_encoded(path, video, fps, crf=18, pad_to_even=True, suffix=suffix)
    elif suffix == ".gif":
        write_gif(path, video, fps)
    elif suffix == ".png":
        write_frame_grid_png(path, video)
    else:
        raise ValueError(f"unsupported video suffix {path.suffix!r} (use .mp4 .mov .webm .avi .gif .png)")
    if metadata is None:
        return [path]
    info = {**metadata, "fps": fps, "shape": list(video.shape)}
    with atomic_path(path.with_suffix(".json")) as tmp:
        Path(tmp).write_text(json.dumps(info, indent=2, default=str))  # default=str: Paths, dtypes
    return [path, path.with_suffix(".json")]


@contextlib.contextmanager
def _open_video(path: str | os.PathLike):
    """Yield ``(container, first video stream)``; av and OS errors become VideoDecodeError."""
    try:
        with pyav().open(str(path)) as container:
            if not container.streams.video:
                raise VideoDecodeError(path, "no video stream")
            yield container, container.streams.video[0]
    except (pyav().FFmpegError, OSError) as e:
        raise VideoDecodeError(path, f"{type(e).__name__}: {e}") from e


def _frame_spans(container, stream) -> Iterator[tuple[av.VideoFrame, float, float]]:
    """Decode ``(frame, start, end)``, times in s from the first frame; a frame lasts until the next."""
    rate = float(stream.average_rate or stream.guessed_rate or 25)
    prev = origin = None
    prev_t = 0.0
    for i, frame in enumerate(container.decode(stream)):
        t = float(frame.time) if frame.time is not None else i / rate
        origin = t if origin is None else origin
        if prev is not None:
            yield prev, prev_t - origin, t - origin
        prev, prev_t = frame, t
    if prev is not None:
        last = float(prev.duration * prev.time_base) if prev.duration and prev.time_base else 1 / rate
        yield prev, prev_t - origin, prev_t - origin + last


def _resample(spans, start: float, fps: float | None) -> Iterator[av.VideoFrame]:
    """Frame-rate conversion by the nearest-earlier rule.

    With ``fps``, yields for each target time ``start + k / fps`` the frame on screen then (the
    last one with time <= target); without, the frames on screen from ``start`` on.
    """
    k = 0
    for frame, t0, t1 in spans:
        if fps is None:
            if t1 > start + _EPS:
                yield frame
            continue
        while start + k / fps < t1 - _EPS:
            yield frame
            k += 1


def resize_crop(video: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Scale ``(C, T, h, w)`` to cover ``size=(H, W)`` (antialiased bilinear), then center crop."""
    (h, w), (H, W) = video.shape[-2:], size
    scale = max(H / h, W / w)
    nh, nw = max(H, round(h * scale)), max(W, round(w * scale))
    x = video.transpose(0, 1)  # (T, C, h, w)
    if (nh, nw) != (h, w):
        x = F.interpolate(x, size=(nh, nw), mode="bilinear", antialias=True, align_corners=False)
    top, left = (nh - H) // 2, (nw - W) // 2
    return x[..., top:top + H, left:left + W].transpose(0, 1).contiguous()


def read_video(path: str | os.PathLike, fps: float | None = None, num_frames: int | None = None,
               start_sec: float = 0.0, size: tuple[int, int] | None = None) -> torch.Tensor:
    """Decode a video file (mp4/webm/avi/mov/gif...) to ``(3, T, H, W)`` float32 in [-1, 1].

    ``fps``: resample to this rate (nearest-earlier frame; None keeps the file's frames).
    ``num_frames``: at most this many frames (decoding stops there). ``start_sec``: seconds
    from the first frame. ``size=(H, W)``: resize so the frame covers it, then center crop.
    Raises VideoDecodeError if the file cannot be opened/decoded or yields no frames.
    Decoding starts at the file's beginning (no seeking).
    """
    if (fps is not None and fps <= 0) or start_sec < 0:
        raise ValueError(f"need fps > 0 and start_sec >= 0, got fps={fps}, start_sec={start_sec}")
    with _open_video(path) as (container, stream):
        stream.thread_type = "AUTO"
        picked = itertools.islice(_resample(_frame_spans(container, stream), start_sec, fps), num_frames)
        frames = [frame.to_ndarray(format="rgb24") for frame in picked]
    if not frames:
        raise VideoDecodeError(path, f"no decodable frames at or after {start_sec} s")
    video = from_uint8_frames(np.stack(frames))
    return resize_crop(video, size) if size is not None else video


def probe_video(path: str | os.PathLike) -> dict:
    """``dict(fps, num_frames, duration, width, height)`` of the first video stream, without decoding.

    ``num_frames`` comes from the header, or by counting packets when the header lacks it;
    ``duration`` is in seconds (None if unknown).
    """
    with _open_video(path) as (container, stream):
        rate = stream.average_rate or stream.guessed_rate
        duration = (float(stream.duration * stream.time_base) if stream.duration is not None
                    else container.duration / pyav().time_base if container.duration else None)
        num_frames = stream.frames or sum(1 for p in container.demux(stream) if p.size)
        return dict(fps=float(rate) if rate else None, num_frames=num_frames, duration=duration,
                    width=stream.codec_context.width, height=stream.codec_context.height)


def write_video_and_gif(path: str | os.PathLike, video: torch.Tensor, fps: float, metadata: dict) -> list[Path]:
    """What cinediff writes for a generated video: ``path`` (.mp4) with its JSON sidecar, and the
    same frames as ``<stem>.gif``. Returns [mp4, sidecar, gif]."""
    return write_video(path, video, fps=fps, metadata=metadata) + write_video(Path(path).with_suffix(".gif"), video, fps=fps)
