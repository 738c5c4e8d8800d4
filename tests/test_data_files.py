"""Real videos from disk: folders, tar shards, image folders; broken files are skipped and counted."""

import io
import json
import math
import logging
import tarfile

import pytest
import torch

from cinediff.data import build_dataset
from cinediff.data.images import ImageFolder
from cinediff.data.sharding import Shard
from cinediff.data.shapes import MovingShapes
from cinediff.data.webdataset import WebDataset
from cinediff.io.video import write_gif, write_mp4

CLIPS = MovingShapes(frames=24, height=48, width=64, max_objects=1, length=8)


@pytest.fixture(scope="module")
def mp4_bytes(tmp_path_factory):
    """Three real 24-frame mp4s (3 s at 8 fps) as bytes, with their captions."""
    folder = tmp_path_factory.mktemp("encoded")
    out = []
    for i in range(3):
        write_mp4(folder / f"{i}.mp4", CLIPS[i]["video"], fps=8)
        out.append(((folder / f"{i}.mp4").read_bytes(), CLIPS[i]["caption"]))
    return out


@pytest.fixture
def video_folder(tmp_path, mp4_bytes):
    """a.mp4, b.mp4 (sidecar captions), c.gif (jsonl caption), d_truncated.mp4, e_garbage.avi."""
    for name, (data, caption) in zip(("a", "b"), mp4_bytes):
        (tmp_path / f"{name}.mp4").write_bytes(data)
        (tmp_path / f"{name}.txt").write_text(caption + "\n")
    write_gif(tmp_path / "c.gif", CLIPS[2]["video"], fps=8)
    (tmp_path / "captions.jsonl").write_text(json.dumps({"file": "c.gif", "caption": "a gif caption"}) + "\n")
    data = mp4_bytes[0][0]
    (tmp_path / "d_truncated.mp4").write_bytes(data[: len(data) // 2])
    (tmp_path / "e_garbage.avi").write_bytes(bytes(range(256)) * 20)
    return tmp_path


def test_folder_reads_good_files_and_skips_broken_ones(video_folder, caplog):
    ds = build_dataset("folder", root=str(video_folder), frames=8, height=32, width=32)
    assert len(ds) == 5
    with caplog.at_level(logging.WARNING, logger="cinediff.data"):
        items = [ds[i] for i in range(len(ds))] + [ds[3], ds[4]]
    for item in items:
        assert item["video"].shape == (3, 8, 32, 32) and item["video"].dtype == torch.float32
        assert -1 <= item["video"].min() and item["video"].max() <= 1
    files = [item["attributes"]["file"] for item in items]
    assert files == ["a.mp4", "b.mp4", "c.gif", "a.mp4", "a.mp4", "a.mp4", "a.mp4"]  # next good file, wrapping
    assert ds.stats == {"skipped": 4, "broken_files": 2}
    assert [items[0]["caption"], items[1]["caption"], items[2]["caption"]] == [CLIPS[0]["caption"], CLIPS[1]["caption"], "a gif caption"]
    logged = [r.getMessage() for r in caplog.records]
    assert sum("d_truncated.mp4" in m for m in logged) == 1 and sum("e_garbage.avi" in m for m in logged) == 1


def test_folder_clip_starts_are_seeded(video_folder):
    ds = build_dataset("folder", root=str(video_folder), frames=8, height=32, width=32)
    again = build_dataset("folder", root=str(video_folder), frames=8, height=32, width=32)
    assert torch.equal(ds[1]["video"], again[1]["video"])
    starts = {ds[0]["attributes"]["start_sec"]}
    for epoch in range(1, 4):
        ds.set_epoch(epoch)
        starts.add(ds[0]["attributes"]["start_sec"])
    assert len(starts) == 4 and all(0 <= s <= 3.0 - 1.0 for s in starts)  # 8 frames at 8 fps fit in 3 s


def test_folder_of_only_broken_files_raises_clearly(tmp_path):
    (tmp_path / "x.mp4").write_bytes(b"not a video")
    (tmp_path / "y.webm").write_bytes(b"")
    ds = build_dataset("folder", root=str(tmp_path))
    with pytest.raises(RuntimeError, match="none of the 2 files"):
        ds[0]
    with pytest.raises(FileNotFoundError):
        build_dataset("folder", root=str(tmp_path / "missing"))


def test_too_short_files_are_skipped(video_folder):
    ds = build_dataset("folder", root=str(video_folder), frames=40, height=32, width=32)  # 5 s > 3 s
    with pytest.raises(RuntimeError, match="could be decoded"):
        ds[0]
    assert "too short" in ds.broken[0]


def test_image_folder_gives_one_frame_videos(tmp_path):
    from PIL import Image

    for i in range(3):
        frame = ((CLIPS[i]["video"][:, 0].permute(1, 2, 0) + 1) * 127.5).round().byte().numpy()
        Image.fromarray(frame).save(tmp_path / f"{i}.png")
        (tmp_path / f"{i}.txt").write_text(f"image {i}")
    (tmp_path / "3.jpg").write_bytes(b"broken jpeg")
    ds = ImageFolder(root=str(tmp_path), height=32, width=32)
    items = [ds[i] for i in range(4)]
    assert all(item["video"].shape == (3, 1, 32, 32) for item in items)
    assert [item["caption"] for item in items] == ["image 0", "image 1", "image 2", "image 0"]
    assert ds.stats["skipped"] == 1


def write_shard(path, samples):
    with tarfile.open(path, "w") as tar:
        for name, data in samples:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


@pytest.fixture
def shards(tmp_path, mp4_bytes):
    """4 shards x 3 samples; shard 0 has a garbage and a truncated video, shard 3 is cut short."""
    (good, caption), _, _ = mp4_bytes
    for s in range(4):
        samples = []
        for k in range(3):
            video = good
            if s == 0 and k == 1:
                video = b"garbage" * 100
            if s == 0 and k == 2:
                video = good[: len(good) // 3]
            text = ("txt", f"shard {s} sample {k}".encode()) if k % 2 == 0 else ("json", json.dumps({"caption": f"shard {s} sample {k}"}).encode())
            samples += [(f"{s:02d}{k:04d}.mp4", video), (f"{s:02d}{k:04d}.{text[0]}", text[1])]
        write_shard(tmp_path / f"shard-{s}.tar", samples)
    with tarfile.open(tmp_path / "shard-3.tar") as tar:
        member = tar.getmember("030001.mp4")
    cut = (tmp_path / "shard-3.tar").read_bytes()[: member.offset_data + member.size // 2]
    (tmp_path / "shard-3.tar").write_bytes(cut)  # ends inside sample 1's video
    return tmp_path


def test_webdataset_streams_and_skips(shards):
    ds = WebDataset(shards=str(shards / "*.tar"), frames=8, height=32, width=32)
    items = list(ds)
    captions = sorted(item["caption"] for item in items)
    expected = [f"shard {s} sample {k}" for s in (0, 1, 2) for k in range(3) if not (s == 0 and k > 0)] + ["shard 3 sample 0"]
    assert captions == sorted(expected)
    assert ds.stats == {"samples": 8, "skipped": 2, "broken_shards": 1}
    assert all(item["video"].shape == (3, 8, 32, 32) for item in items)
    assert len({item["index"] for item in items}) == len(items)


def test_webdataset_splits_shards_among_ranks_and_workers(shards):
    ds = WebDataset(shards=str(shards))
    for epoch in (0, 1):
        ds.set_epoch(epoch)
        seen = [ds.my_shards(Shard(rank, 2, worker, 2)) for rank in range(2) for worker in range(2)]
        assert sorted(s for mine in seen for s in mine) == [0, 1, 2, 3]  # disjoint and covering
        assert all(len(mine) == 1 for mine in seen)
    ds = WebDataset(shards=str(shards), frames=4, height=16, width=16, rank=1, world_size=2)
    good = {0: 1, 1: 3, 2: 3, 3: 1}  # decodable samples per shard
    assert len(list(ds)) == sum(good[s] for s in ds.my_shards())  # this rank's shards only


def test_training_streams_webdataset_shards_across_epochs_and_resumes_exactly(shards, tmp_path):
    """Streaming data sets have no len(): the trainer used to crash before step 1."""
    from test_trainer import tiny_config

    from cinediff.training.checkpoint import load_checkpoint
    from cinediff.training.config import load_config
    from cinediff.training.trainer import train

    def run(out, steps):
        data = f'data.args={{shards="{shards}/*.tar", frames=4, height=16, width=16}}'
        return train(load_config(None, [*tiny_config(out), "data.dataset=webdataset", data, "data.batch_size=2",
                                        f"train.steps={steps}", "train.checkpoint_every=3", "train.ema_decay=0"]))

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        straight = run(tmp_path / "straight", 6)  # 8 decodable clips, 2 per step: the second epoch starts at step 4
        run(tmp_path / "resumed", 3)
        resumed = run(tmp_path / "resumed", 6)
    finally:
        torch.set_num_threads(threads)
    a, b = (load_checkpoint(r / "checkpoints" / "step_0000006")["model"] for r in (straight, resumed))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    records = [json.loads(line) for line in (straight / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 6 and all(math.isfinite(r["loss"]) for r in records)
    skipped = [r["data_skipped"] for r in records]  # 2 undecodable samples + 1 damaged shard per epoch
    assert skipped == sorted(skipped) and 2 <= skipped[-1] <= 6
    assert skipped == [json.loads(line)["data_skipped"] for line in (resumed / "metrics.jsonl").read_text().splitlines()]
