"""Video file I/O: uint8 conversion, writers (atomic, sidecars), PyAV reader, resampling, errors."""

import json
import math
from pathlib import Path

import av
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from cinediff.io import (
    VideoDecodeError,
    from_uint8_frames,
    make_grid,
    probe_video,
    read_video,
    to_uint8_frames,
    write_frame_grid_png,
    write_gif,
    write_mp4,
    write_video,
)
from cinediff.io import video as video_mod

FPS = 8


def synthetic_clip(t: int = 16, h: int = 64, w: int = 64) -> torch.Tensor:
    """(3, t, h, w) in [-1, 1]: a drifting smooth gradient plus a square moving 2 px/frame down."""
    tt, yy, xx = torch.meshgrid(torch.arange(t).float(), torch.linspace(0, 1, h), torch.linspace(0, 1, w),
                                indexing="ij")
    video = torch.stack([torch.sin(2 * math.pi * (xx + tt / t)), 2 * yy - 1,
                         0.5 * torch.cos(2 * math.pi * (yy - tt / t))])
    for k in range(t):
        video[:, k, 8 + 2 * k:24 + 2 * k, 20:36] = torch.tensor([0.9, -0.6, 0.3])[:, None, None]
    return video


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB for signals in [-1, 1] (peak-to-peak 2)."""
    return (10 * torch.log10(4 / ((a - b) ** 2).mean())).item()


def has_encoder(name: str) -> bool:
    try:
        av.Codec(name, "w")
        return True
    except (av.FFmpegError, ValueError):  # UnknownCodecError is a ValueError
        return False


def temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(".") or p.suffix == ".tmp"]


@pytest.fixture(scope="module")
def clip() -> torch.Tensor:
    return synthetic_clip()


@pytest.fixture(scope="module")
def mp4(clip, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("mp4") / "clip.mp4"
    write_mp4(path, clip, fps=FPS)
    return path


def test_uint8_conversion_rounds_clamps_and_expands_gray():
    video = torch.tensor([-2.0, -1.0, 0.0, 1.0, 3.0]).reshape(1, 1, 1, 5)
    frames = to_uint8_frames(video)
    assert frames.shape == (1, 1, 5, 3) and frames.dtype == np.uint8
    assert frames[0, 0, :, 0].tolist() == [0, 0, 128, 255, 255]
    assert (frames == frames[..., :1]).all()  # gray -> RGB
    rgb = torch.rand(3, 2, 4, 5) * 2 - 1
    back = from_uint8_frames(to_uint8_frames(rgb))
    assert back.shape == rgb.shape and (back - rgb).abs().max() <= 1 / 255 + 1e-6
    assert (to_uint8_frames(back) == to_uint8_frames(rgb)).all()


def test_mp4_round_trip_and_probe(clip, mp4):
    video = read_video(mp4)
    assert video.shape == clip.shape and video.dtype == torch.float32
    print(f"mp4 round-trip PSNR: {psnr(video, clip):.2f} dB")
    assert psnr(video, clip) > 30
    assert probe_video(mp4) == dict(fps=8.0, num_frames=16, duration=2.0, width=64, height=64)
    assert read_video(mp4, fps=FPS).shape[1] == clip.shape[1]  # same count at the native rate


def test_gif_round_trip(clip, tmp_path):
    write_gif(tmp_path / "clip.gif", clip, fps=FPS)
    video = read_video(tmp_path / "clip.gif")
    assert video.shape == clip.shape
    error = np.abs(to_uint8_frames(video).astype(int) - to_uint8_frames(clip).astype(int))
    print(f"gif round-trip PSNR: {psnr(video, clip):.2f} dB, mean |error| {error.mean():.2f}/255")
    assert psnr(video, clip) > 28 and error.mean() < 6  # 256-color palette per frame
    # delays alternate 12/13 cs so frame k starts within 5 ms of k / fps
    assert read_video(tmp_path / "clip.gif", fps=FPS).shape[1] == 16
    assert probe_video(tmp_path / "clip.gif")["duration"] == pytest.approx(2.0)


def test_odd_size_is_padded_by_replication_or_rejected(tmp_path):
    clip = synthetic_clip(t=4, h=63, w=65)
    write_mp4(tmp_path / "odd.mp4", clip, fps=FPS)
    video = read_video(tmp_path / "odd.mp4")
    assert video.shape == (3, 4, 64, 66)
    assert psnr(video[..., :63, :65], clip) > 30
    assert psnr(video[..., 63, :], video[..., 62, :]) > 35  # replicated last row
    assert psnr(video[..., :, 65], video[..., :, 64]) > 35  # replicated last column
    with pytest.raises(ValueError, match="63 x 65"):
        write_mp4(tmp_path / "odd2.mp4", clip, pad_to_even=False)
    assert not (tmp_path / "odd2.mp4").exists()


def test_half_fps_takes_every_other_frame(clip, mp4):
    video = read_video(mp4, fps=FPS / 2)
    assert video.shape[1] == 8
    for k in range(8):
        assert psnr(video[:, k], clip[:, 2 * k]) > 30
        assert psnr(video[:, k], clip[:, 2 * k]) > psnr(video[:, k], clip[:, 2 * k + 1]) + 8


def test_double_fps_repeats_frames_and_start_num_frames(clip, mp4):
    video = read_video(mp4, fps=2 * FPS)
    assert video.shape[1] == 32 and torch.equal(video[:, 0::2], video[:, 1::2])
    part = read_video(mp4, start_sec=0.5, num_frames=4)  # native rate: frames 4..7
    assert part.shape[1] == 4
    assert all(psnr(part[:, k], clip[:, 4 + k]) > 30 for k in range(4))
    assert torch.equal(read_video(mp4, fps=FPS, start_sec=0.5, num_frames=4), part)
    with pytest.raises(VideoDecodeError, match="no decodable frames"):
        read_video(mp4, start_sec=10.0)


def test_size_resizes_shorter_side_then_center_crops(clip, mp4):
    video = read_video(mp4, size=(32, 48))  # 64x64 -> 48x48 -> rows 8:40
    assert video.shape == (3, 16, 32, 48)
    expected = F.interpolate(clip.transpose(0, 1), size=(48, 48), mode="bilinear", antialias=True)
    assert psnr(video, expected[..., 8:40, :].transpose(0, 1)) > 30
    assert read_video(mp4, size=(96, 80)).shape == (3, 16, 96, 80)  # upscaling
    assert torch.equal(read_video(mp4, size=(64, 64)), read_video(mp4))


def test_write_video_dispatch_and_metadata_sidecar(clip, tmp_path):
    written = write_video(tmp_path / "out.mp4", clip, fps=FPS,
                          metadata={"prompt": "a red square", "seed": 7, "ckpt": Path("/x/model.pt")})
    assert written == [tmp_path / "out.mp4", tmp_path / "out.json"]
    info = json.loads((tmp_path / "out.json").read_text())
    assert info == {"prompt": "a red square", "seed": 7, "ckpt": "/x/model.pt", "fps": 8, "shape": [3, 16, 64, 64]}
    assert write_video(tmp_path / "out.gif", clip) == [tmp_path / "out.gif"]
    assert write_video(tmp_path / "out.png", clip) == [tmp_path / "out.png"]
    batch = torch.stack([clip, -clip])  # (B, C, T, H, W) -> one 1x2 grid video
    write_video(tmp_path / "grid.mp4", batch, fps=FPS)
    assert read_video(tmp_path / "grid.mp4").shape == (3, 16, 68, 134)
    with pytest.raises(ValueError, match="unsupported"):
        write_video(tmp_path / "out.mkv", clip)


def test_make_grid_layout():
    videos = [torch.full((3, 2, 8, 8), v) for v in (0.1, 0.2, 0.3)] + [torch.full((1, 2, 8, 8), 0.4)]
    grid = make_grid(videos[:3], nrow=2, padding=2)
    assert grid.shape == (3, 2, 22, 22)
    assert (grid[:, :, 2:10, 2:10] == 0.1).all() and (grid[:, :, 2:10, 12:20] == 0.2).all()
    assert (grid[:, :, 12:20, 2:10] == 0.3).all() and (grid[:, :, 12:20, 12:20] == -1).all()
    assert (grid[:, :, :2] == -1).all() and (grid[:, :, :, -2:] == -1).all()
    assert make_grid(torch.stack(videos[:3])).shape == (3, 2, 22, 22)  # default nrow = ceil(sqrt(3))
    assert make_grid(videos, nrow=4, padding=0).shape == (3, 2, 8, 32)  # gray cell expanded to RGB


def test_frame_grid_png(clip, tmp_path):
    write_frame_grid_png(tmp_path / "frames.png", clip, max_frames=16)
    image = np.asarray(Image.open(tmp_path / "frames.png"))
    assert image.shape == (2 * 66 + 2, 8 * 66 + 2, 3)  # 2 rows of 8 frames, 2 px padding
    assert (image[2:66, 2:66] == to_uint8_frames(clip)[0]).all()
    write_frame_grid_png(tmp_path / "few.png", clip, max_frames=4)
    assert np.asarray(Image.open(tmp_path / "few.png")).shape == (68, 4 * 66 + 2, 3)


def test_truncated_mp4_raises(mp4, tmp_path):
    """The MP4 index (moov) is written last, so a cut file cannot be opened at all."""
    data = mp4.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: int(0.3 * len(data))])
    with pytest.raises(VideoDecodeError) as info:
        read_video(tmp_path / "cut.mp4")
    assert info.value.path == tmp_path / "cut.mp4" and "Invalid data" in info.value.reason
    with pytest.raises(VideoDecodeError):
        probe_video(tmp_path / "cut.mp4")


@pytest.mark.skipif(not has_encoder("libvpx-vp9"), reason="PyAV build has no libvpx-vp9 encoder")
def test_truncated_webm_returns_decodable_prefix(clip, tmp_path):
    """Streaming formats decode up to the cut without an FFmpeg error: the frames before it."""
    write_video(tmp_path / "clip.webm", clip, fps=FPS)
    data = (tmp_path / "clip.webm").read_bytes()
    (tmp_path / "cut.webm").write_bytes(data[: int(0.6 * len(data))])
    video = read_video(tmp_path / "cut.webm")
    assert 0 < video.shape[1] < 16 and psnr(video, clip[:, : video.shape[1]]) > 30


@pytest.mark.parametrize("content", [np.random.default_rng(0).bytes(4096), b""], ids=["garbage", "empty"])
def test_unreadable_files_raise_video_decode_error(tmp_path, content):
    (tmp_path / "bad.mp4").write_bytes(content)
    for fn in (read_video, probe_video):
        with pytest.raises(VideoDecodeError, match="bad.mp4"):
            fn(tmp_path / "bad.mp4")
    with pytest.raises(VideoDecodeError, match="No such file"):
        read_video(tmp_path / "missing.mp4")


def test_writes_are_atomic(clip, tmp_path, monkeypatch):
    for name in ("a.mp4", "a.gif", "a.png", "b.webm"):
        write_video(tmp_path / name, clip[:, :4], metadata={"seed": 0})
    assert temp_files(tmp_path) == []
    old = (tmp_path / "a.mp4").read_bytes()

    def crash(tmp, *args, **kwargs):  # half-writes the temp file, then fails
        Path(tmp).write_bytes(b"partial")
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(video_mod.pyav(), "open", crash)  # the PyAV module the writer opens files with
    with pytest.raises(RuntimeError, match="simulated crash"):
        write_mp4(tmp_path / "a.mp4", clip)
    assert (tmp_path / "a.mp4").read_bytes() == old and temp_files(tmp_path) == []


@pytest.mark.parametrize("suffix, encoder", [(".webm", "libvpx-vp9"), (".avi", "mpeg4"), (".mov", "libx264")])
def test_other_container_round_trips(clip, tmp_path, suffix, encoder):
    if not has_encoder(encoder):
        pytest.skip(f"PyAV build has no {encoder} encoder")
    write_video(tmp_path / f"clip{suffix}", clip, fps=FPS)
    video = read_video(tmp_path / f"clip{suffix}")
    print(f"{suffix} ({encoder}) round-trip PSNR: {psnr(video, clip):.2f} dB")
    assert video.shape == clip.shape and psnr(video, clip) > 30
    assert probe_video(tmp_path / f"clip{suffix}")["num_frames"] == 16


def test_missing_encoder_falls_back_with_warning(clip, tmp_path, monkeypatch):
    monkeypatch.setitem(video_mod._CONTAINERS, ".mp4", ("mp4", ("no-such-encoder", "mpeg4")))
    video_mod._encoder.cache_clear()
    try:
        with pytest.warns(UserWarning, match="no-such-encoder encoder not in this PyAV build; .* mpeg4"):
            write_mp4(tmp_path / "fallback.mp4", clip, fps=FPS)
        assert read_video(tmp_path / "fallback.mp4").shape == clip.shape
        monkeypatch.setitem(video_mod._CONTAINERS, ".mp4", ("mp4", ("no-such-encoder",)))
        video_mod._encoder.cache_clear()
        with pytest.raises(RuntimeError, match="no encoder for .mp4"):
            write_mp4(tmp_path / "none.mp4", clip)
    finally:
        video_mod._encoder.cache_clear()
