"""DDP ranks x DataLoader workers see disjoint, covering samples; image/video batch mixing."""

import torch
from torch.utils.data import DataLoader

from cinediff.data import DATASETS, build_dataset
from cinediff.data.collate import collate
from cinediff.data.images import FrameImages
from cinediff.data.mixing import MixedBatchSampler, mixed_loader
from cinediff.data.sharding import Shard, ShardedIterable, current_shard, distributed_sampler, shard_slice
from cinediff.data.shapes import MovingShapes


def test_shard_slices_are_disjoint_and_cover():
    shards = [Shard(rank, 2, worker, 2) for rank in range(2) for worker in range(2)]
    parts = [shard_slice(range(103), s) for s in shards]
    assert sorted(i for part in parts for i in part) == list(range(103))
    assert current_shard() == Shard(0, 1, 0, 1)  # no torch.distributed, main process


def test_sharded_iterable_two_ranks_two_workers():
    ds = MovingShapes(length=40, frames=2, height=16, width=16)
    seen = []
    for rank in range(2):
        stream = ShardedIterable(ds, seed=3, rank=rank, world_size=2, chunk=4)
        loader = DataLoader(stream, batch_size=None, num_workers=2)  # real worker processes
        seen.append([item["index"] for item in loader])
    assert not set(seen[0]) & set(seen[1])
    assert sorted(seen[0] + seen[1]) == list(range(40))
    per_shard = [ShardedIterable(ds, seed=3, rank=r, world_size=2).indices(Shard(r, 2, w, 2)) for r in range(2) for w in range(2)]
    assert all(len(part) == 10 for part in per_shard) and sorted(sum(per_shard, [])) == list(range(40))


def test_distributed_sampler_ranks_are_disjoint():
    ds = MovingShapes(length=64)
    parts = []
    for rank in range(2):
        sampler = distributed_sampler(ds, seed=1, rank=rank, world_size=2)
        sampler.set_epoch(2)
        parts.append(list(sampler))
    assert not set(parts[0]) & set(parts[1]) and sorted(parts[0] + parts[1]) == list(range(64))


def test_frame_images_are_one_frame_and_seeded():
    clips = MovingShapes(length=20)
    images = FrameImages(clips, frame="random", seed=0)
    item = images[3]
    t = item["attributes"]["frame"]
    assert item["video"].shape == (3, 1, 64, 64) and torch.equal(item["video"][:, 0], clips[3]["video"][:, t])
    assert images[3]["attributes"]["frame"] == t and item["caption"] == clips[3]["caption"]
    assert len({images[i]["attributes"]["frame"] for i in range(20)}) > 3
    assert FrameImages(clips, frame="first")[3]["attributes"]["frame"] == 0


def test_mixed_batches_are_homogeneous_seeded_and_rank_consistent():
    videos = MovingShapes(length=64, frames=4, height=16, width=16)
    images = FrameImages(MovingShapes(length=32, frames=4, height=16, width=16, seed=1), frame="first")
    loader = mixed_loader(videos, images, batch_size=4, image_fraction=0.3, image_batch_size=8, seed=5, num_batches=40)
    shapes = [tuple(batch["video"].shape) for batch in loader]
    assert set(shapes) == {(4, 3, 4, 16, 16), (8, 3, 1, 16, 16)}
    image_share = sum(s[2] == 1 for s in shapes) / len(shapes)
    assert 0.1 < image_share < 0.5
    rank_batches = [list(MixedBatchSampler(64, 32, 4, 0.3, 8, seed=5, rank=r, world_size=2, num_batches=40)) for r in range(2)]
    assert [len(b) for b in rank_batches[0]] == [len(b) for b in rank_batches[1]]  # same kind of step on every rank
    for b0, b1 in zip(*rank_batches):
        assert not set(b0) & set(b1)
    assert rank_batches[0] == list(MixedBatchSampler(64, 32, 4, 0.3, 8, seed=5, rank=0, world_size=2, num_batches=40))


def test_collate_and_registry():
    batch = collate([MovingShapes()[i] for i in range(3)])
    assert batch["video"].shape == (3, 3, 16, 64, 64) and len(batch["caption"]) == 3
    assert batch["fps"].tolist() == [8.0] * 3 and batch["index"].tolist() == [0, 1, 2]
    assert set(DATASETS) >= {"moving-shapes", "moving-digits", "camera-moves", "folder", "webdataset"}
    assert build_dataset("moving-digits", frames=3)[0]["video"].shape == (3, 3, 64, 64)
    assert build_dataset("camera-moves", frames=3, height=32, width=48)[0]["video"].shape == (3, 3, 32, 48)
