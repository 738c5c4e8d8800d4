"""The training loop: one function, read top to bottom (nanoGPT style).

``train(config)`` trains any task (text-to-video denoisers with any formulation × noise prior ×
backbone, autoencoders) on one process or under ``torchrun`` (DDP / FSDP). Running the same
command again resumes from the newest checkpoint and continues exactly: data order, noise
and every random draw are functions of (seed, step, sample position), not of process history.

Learning curves: every ``train.eval_every`` steps each of ``callbacks`` gets an
:class:`EvalContext` (the EMA weights, clips seen, training minutes, a ``generate`` function)
and returns a dict; the trainer writes them as one ``{"kind": "eval", ...}`` record into
``metrics.jsonl``. The callbacks come from the caller (``cinediff train`` passes the judge's,
:mod:`cinediff.evaluation.curve`), so this module never imports the evaluation code.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from cinediff.runtime import autocast, prepare_cpu_math, use_bf16
from cinediff.weights import atomic_write_json, atomic_write_text
from cinediff.training.checkpoint import (latest_checkpoint, load_checkpoint, newest_loadable, resolve_checkpoint,
                                         save_checkpoint)
from cinediff.training.config import RunConfig, config_to_dict
from cinediff.data.collate import collate
from cinediff.training.data import (PositionedDataset, StepBatchSampler, first_item, is_streaming, position_generators,
                                    position_seed, stream_batches)
from cinediff.training.distributed import (check_replicas_in_sync, full_model_state, full_optimizer_state,
                                           mean_across_ranks, set_full_optimizer_state, setup_distributed,
                                           teardown_distributed, wrap_model)
from cinediff.training.ema import EMA
from cinediff.training.loggers import open_loggers
from cinediff.training.runfolder import RunLock, check_resume, remove_stale_temp
from cinediff.training.tasks import build_task

log = logging.getLogger("cinediff.train")


class TrainingDiverged(RuntimeError):
    """Too many consecutive non-finite losses or gradients."""


def lr_at(step: int, config) -> float:
    """Linear warm-up to ``lr``, then constant or cosine decay to ``min_lr_ratio · lr``."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    if config.schedule == "constant":
        return config.lr
    if config.schedule == "cosine":
        progress = (step - config.warmup_steps) / max(1, config.total_steps - config.warmup_steps)
        floor = config.lr * config.min_lr_ratio
        return floor + (config.lr - floor) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    raise ValueError(f"unknown lr schedule {config.schedule!r}; choose constant or cosine")


def to_device(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}


def as_image_batch(batch: dict, generators) -> dict:
    """Joint image-video training: keep one random frame of every clip (T = 1)."""
    frames = batch["video"].shape[2]
    picks = [int(torch.randint(frames, (), generator=g)) for g in generators]
    video = torch.stack([v[:, t : t + 1] for v, t in zip(batch["video"], picks)])
    return batch | {"video": video}


def build_dataset_from(config: RunConfig):
    from cinediff.data import build_dataset

    return build_dataset(config.data.dataset, **config.data.args)


def _finite(x: torch.Tensor) -> bool:
    return bool(torch.isfinite(x).all())


@dataclass
class EvalContext:
    """What a learning-curve callback sees: the model with its EMA weights (a copy; the model itself without EMA),
    where training stands, and :meth:`generate` to sample it like ``cinediff generate`` would."""

    step: int  # optimizer steps done
    clips: int  # training clips seen (steps × global batch)
    minutes: float  # training time so far, resumed runs included, evaluation excluded
    task: torch.nn.Module
    config: RunConfig
    shape: tuple[int, ...]  # (C, T, H, W) the denoiser works in
    device: torch.device
    run_dir: Path

    def generation(self, steps: int | None = None):
        """The sampling settings: the run's noise prior, ``steps`` (default ``train.sample_steps``)."""
        from cinediff.models.generate import GenerationConfig

        model = self.config.model
        return GenerationConfig(steps=steps or self.config.train.sample_steps, noise_prior=model.noise_prior,
                                noise_alpha=model.noise_alpha)

    def generate(self, prompts: Sequence[str], seeds: Sequence[int], steps: int | None = None) -> torch.Tensor:
        """Videos (B, C, T, H, W) in [-1, 1] (decoded by the run's autoencoder) for ``prompts``."""
        from cinediff.models.generate import generate_videos

        gen, was_training = self.generation(steps), self.task.training
        self.task.eval()  # without EMA the task is the live model: hand it back in its training mode
        try:
            with autocast(self.device, use_bf16(self.config.train.precision, self.device)):
                return generate_videos(self.task.denoiser, self.task.text.module, list(prompts), self.shape,
                                       list(seeds), gen, self.device, disable_progress=True,
                                       autoencoder=self.task.autoencoder.module)
        finally:
            self.task.train(was_training)


EvalCallback = Callable[[EvalContext], dict]


def train(config: RunConfig, dataset=None, task=None, callbacks: Sequence[EvalCallback] = ()) -> Path:
    """Train ``config``; returns the run folder. ``dataset``/``task`` override the config's (tests,
    notebooks); ``callbacks`` are called every ``train.eval_every`` steps (module doc). The run folder
    is locked for the whole run (:mod:`cinediff.training.runfolder`)."""
    dist = setup_distributed()
    lock = RunLock(config.train.out_dir).acquire() if dist.is_main else None
    try:
        return _train(config, dataset, task, callbacks, dist)
    finally:
        if lock is not None:
            lock.release()


def _train(config: RunConfig, dataset, task, callbacks: Sequence[EvalCallback], dist) -> Path:
    # Phase: set-up ---------------------------------------------------------------------
    device = dist.device
    prepare_cpu_math(device)
    tc, oc = config.train, config.optim
    bf16 = use_bf16(tc.precision, device)
    oc.total_steps = tc.steps  # for the cosine schedule
    run_dir = Path(tc.out_dir)
    ckpt_dir = run_dir / "checkpoints"
    if dist.is_main:
        remove_stale_temp(ckpt_dir)
    latest, ckpt = newest_loadable(ckpt_dir)  # corrupt newer checkpoints are skipped, with a warning
    if ckpt is not None:
        check_resume(ckpt["state"]["config"], config, latest)  # before anything in the folder changes
    if dist.is_main:
        atomic_write_json(run_dir / "config.json", config_to_dict(config))
    torch.manual_seed(tc.seed)
    dataset = dataset if dataset is not None else build_dataset_from(config)
    task = (task if task is not None else build_task(config.model)).to(device)
    if config.model.init_from and ckpt is None:  # a resumed run has its own weights
        init_weights(task, config.model.init_from, verbose=dist.is_main)
    ema = EMA(task, tc.ema_decay) if tc.ema_decay > 0 else None

    # Phase: resume (full weights into the unwrapped model; FSDP shards them when wrapping) --
    start_step, counters = 0, {"nonfinite_skipped": 0, "train_seconds": 0.0}
    if ckpt is not None:
        task.load_state_dict(ckpt["model"])
        if ema is not None and ckpt["ema"] is not None:
            ema.load_state_dict(ckpt["ema"])
        start_step, counters = ckpt["state"]["step"], {"train_seconds": 0.0} | ckpt["state"]["counters"]
        if dist.is_main:
            log.info("resumed from %s at step %d", latest, start_step)
    model = wrap_model(task, dist, tc.distributed)
    if ema is not None:
        ema.shard_like(task)  # FSDP: average the local shards only
    params = [p for p in task.parameters() if p.requires_grad]  # after wrapping: FSDP replaces parameters
    optimizer = torch.optim.AdamW(params, lr=oc.lr, betas=oc.betas, weight_decay=oc.weight_decay)
    if ckpt is not None:
        set_full_optimizer_state(task, optimizer, ckpt["optimizer"])
    if tc.compile:
        model = torch.compile(model)

    sampler = StepBatchSampler(start_step, tc.steps, config.data.batch_size, dist.rank, dist.world_size, oc.grad_accum)
    if is_streaming(dataset):  # webdataset shards: stream order, steps-based epochs
        batches = stream_batches(dataset, sampler, collate, config.data.num_workers)
    else:
        batches = iter(torch.utils.data.DataLoader(PositionedDataset(dataset, tc.seed), batch_sampler=sampler,
                                                   collate_fn=collate, num_workers=config.data.num_workers,
                                                   persistent_workers=False))
    metrics_file = _open_metrics(run_dir / "metrics.jsonl", start_step) if dist.is_main else None
    loggers = open_loggers(run_dir, tc.tensorboard, tc.wandb, config_to_dict(config)) if dist.is_main else []
    sharded = dist.enabled and tc.distributed == "fsdp"  # rank 0 alone cannot run a sharded model
    evaluating = bool(tc.eval_every and callbacks and dist.is_main and not sharded)
    if tc.eval_every and not callbacks and dist.is_main:
        log.warning("train.eval_every is set but no evaluation callback was given: no learning curve "
                    "(`cinediff train` passes the judge's)")

    # Phase: loop -----------------------------------------------------------------------
    bar = tqdm(range(start_step, tc.steps), initial=start_step, total=tc.steps, disable=not dist.is_main,
               desc="train", dynamic_ncols=True)
    consecutive_bad, t_last = 0, time.perf_counter()
    for step in bar:
        if out_of_time(counters, tc, dist):
            break
        t_step = time.perf_counter()
        torch.manual_seed(position_seed(tc.seed, step, stream=1))  # any global-RNG use is a function of the step
        lr = lr_at(step, oc)
        for group in optimizer.param_groups:
            group["lr"] = lr
        image_step = torch.rand(()) < config.data.image_batch_fraction
        total = torch.zeros((), device=device)
        data_skipped = 0  # unreadable files / samples the data set replaced or dropped this step
        for micro in range(oc.grad_accum):
            batch = next(batches)
            data_skipped += int(batch["skipped"].sum()) if "skipped" in batch else 0
            generators = position_generators(tc.seed, batch["position"].tolist())
            if image_step:
                batch = as_image_batch(batch, generators)
            batch = to_device(batch, device)
            sync = micro == oc.grad_accum - 1 or not dist.enabled or tc.distributed != "ddp"
            with (model.no_sync() if not sync else contextlib.nullcontext()), autocast(device, bf16):
                loss, logs = model(batch, generators)
                loss = loss.float().mean() / oc.grad_accum
            loss.backward()
            total += loss.detach()
        total, skipped = mean_across_ranks(torch.stack([total, torch.tensor(float(data_skipped), device=device)]))
        counters["data_skipped"] = counters.get("data_skipped", 0) + round(float(skipped) * dist.world_size)
        grad_norm = torch.nn.utils.clip_grad_norm_(params, oc.grad_clip if oc.grad_clip > 0 else float("inf"))

        # Phase: non-finite guard — skip the update, count it, stop if it keeps happening. The step
        # still counts: logging and checkpoints stay on schedule (the weights are the last good ones).
        if _finite(total) and _finite(grad_norm):
            consecutive_bad = 0
            optimizer.step()
            if ema is not None:
                ema.update(task, step)
        else:
            counters["nonfinite_skipped"] += 1
            consecutive_bad += 1
            log.warning("step %d: non-finite loss/gradient (loss=%s, grad_norm=%s); update skipped",
                        step, total.item(), grad_norm.item())
            if consecutive_bad >= tc.max_consecutive_nonfinite:
                raise TrainingDiverged(
                    f"{consecutive_bad} consecutive non-finite steps (last at step {step}); stopping. "
                    f"{_checkpoint_note(ckpt_dir, tc)} Lower optim.lr, check the data, or train in fp32.")
        optimizer.zero_grad(set_to_none=True)
        done = step + 1
        counters["train_seconds"] += time.perf_counter() - t_step
        last = done == tc.steps or out_of_time(counters, tc, dist)

        # Phase: logging, checkpoints, samples (rank 0 writes) ------------------------------
        if dist.is_main and (done % tc.log_every == 0 or last):
            now = time.perf_counter()
            record = {"step": done, "loss": total.item(), "lr": lr, "grad_norm": grad_norm.item(),
                      "samples_per_s": tc.log_every * config.data.batch_size / (now - t_last),
                      "nonfinite_skipped": counters["nonfinite_skipped"], "data_skipped": counters["data_skipped"],
                      **{k: float(v) for k, v in logs.items()}}
            t_last = now
            bar.set_postfix(loss=f"{record['loss']:.4f}", lr=f"{lr:.1e}")
            metrics_file.write(json.dumps(record) + "\n")
            metrics_file.flush()
            for logger in loggers:
                logger.log("train", record, done)
        # The learning curve first: a run killed before the checkpoint redoes this record on resume.
        if evaluating and (done % tc.eval_every == 0 or last):
            context = eval_context(task, ema, config, dataset, done, counters, device, run_dir)
            record = evaluation_record(context, callbacks)
            t_last += record["eval_seconds"]  # samples_per_s counts training only
            metrics_file.write(json.dumps(record) + "\n")
            metrics_file.flush()
            for logger in loggers:
                logger.log("eval", record, done)
        if done % tc.checkpoint_every == 0 or last:
            _checkpoint(ckpt_dir, done, task, optimizer, ema, counters, config, dist, tc.keep_last)
        if dist.is_main and tc.sample_every and done % tc.sample_every == 0 and not sharded:
            write_samples(task, ema, config, dataset, run_dir / "samples" / f"step_{done:07d}.mp4", device)
    bar.close()
    if metrics_file is not None:
        metrics_file.close()
    for logger in loggers:
        logger.close()
    if tc.distributed == "ddp":
        check_replicas_in_sync(task)
    teardown_distributed()
    return run_dir


def starting_weights(source: str | Path) -> dict[str, torch.Tensor]:
    """The weights ``model.init_from`` names, keyed like a task's state dict: a run or checkpoint
    folder (its EMA weights when present), a saved autoencoder (or a shipped one's name, e.g.
    ``vae``) or an exported text-to-video model (``cinediff export``; ``default``: the shipped one)."""
    from cinediff.autoencoders import resolve_autoencoder_dir
    from cinediff.models.loading import DENOISER_PREFIX, SHIPPED_MODELS, resolve_model_dir
    from cinediff.training.config import recipe_writing
    from cinediff.training.export import is_autoencoder
    from cinediff.models.diffusers_init import diffusers_unet_weights, is_diffusers_pipeline
    from cinediff.weights import load_tensors

    if is_diffusers_pipeline(source):  # a diffusers text-to-image folder: its U-Net
        return diffusers_unet_weights(source)
    shipped = str(source) in SHIPPED_MODELS and not Path(source).exists()
    folder = resolve_model_dir(source) if shipped else resolve_autoencoder_dir(source)
    if not folder.exists():
        recipe = recipe_writing(source)
        raise FileNotFoundError(f"model.init_from: {source} does not exist (a later stage of a multi-stage recipe such "
                                f"as `default`: train the run it starts from first, "
                                f"{f'`cinediff train {recipe}`' if recipe else 'e.g. `cinediff train default-base`'})")
    if (folder / "model.safetensors").is_file() and (folder / "config.json").is_file():  # a saved model
        prefix = "autoencoder." if is_autoencoder(folder) else DENOISER_PREFIX
        return {prefix + k: v for k, v in load_tensors(folder / "model.safetensors").items()}
    ckpt = load_checkpoint(resolve_checkpoint(source))
    return ckpt["ema"] if ckpt["ema"] is not None else ckpt["model"]


def init_weights(task, source: str | Path, verbose: bool = True) -> None:
    """Start from other weights (:func:`starting_weights`): two-stage recipes such as image
    pre-training → video fine-tuning, or fine-tuning a shipped model. Layers the source lacks
    (new temporal layers) keep their initialisation; weights it has that the task lacks are an error."""
    missing, unexpected = task.load_state_dict(starting_weights(source), strict=False)
    if unexpected:
        raise ValueError(f"{source} has weights this model lacks: {unexpected[:5]}... (different architecture?)")
    if verbose:
        log.info("initialised from %s; %d new tensors keep their init: %s", source, len(missing), missing[:8])


def _checkpoint(ckpt_dir, step, task, optimizer, ema, counters, config, dist, keep_last):
    """Gather full (unsharded) states on every rank — collective under FSDP — and write on rank 0."""
    model_state, optim_state = full_model_state(task), full_optimizer_state(task, optimizer)
    ema_state = ema.full_state_dict() if ema is not None else None
    if dist.is_main:
        save_checkpoint(ckpt_dir, step, model_state, optim_state, {"counters": counters, "config": config_to_dict(config)},
                        ema_state, keep_last)
    if dist.enabled:
        torch.distributed.barrier()


def _checkpoint_note(ckpt_dir: Path, tc) -> str:
    latest = latest_checkpoint(ckpt_dir)
    if latest is None:
        return f"No checkpoint was written yet (train.checkpoint_every = {tc.checkpoint_every})."
    return f"The last good checkpoint is intact: {latest}."


def out_of_time(counters: dict, tc, dist) -> bool:
    """Whether ``train.max_minutes`` of training time are used up (rank 0's clock decides for all ranks)."""
    if not tc.max_minutes:
        return False
    spent = torch.tensor(float(counters["train_seconds"] >= 60 * tc.max_minutes))
    if dist.enabled:
        torch.distributed.broadcast(spent.to(dist.device), src=0)
    return bool(spent)


def samples_text_to_video(task) -> bool:
    """Whether a task's model makes videos from text alone (autoencoders and conditional stages —
    Show-1, CMD — are sampled by their pipelines)."""
    return hasattr(task, "denoiser") and task.target_kind == "video"


def eval_context(task, ema, config: RunConfig, dataset, done: int, counters: dict, device, run_dir: Path) -> EvalContext:
    """An :class:`EvalContext` over a copy of the model holding the EMA weights (the model itself without EMA)."""
    sampler_task = copy.deepcopy(task) if ema is not None else task
    if ema is not None:
        ema.copy_to(sampler_task)
    shape = tuple(task.encode(first_item(dataset)["video"][None].to(device)).shape[1:]) if samples_text_to_video(task) else ()
    return EvalContext(done, done * config.data.batch_size, counters["train_seconds"] / 60, sampler_task, config,
                       shape, device, run_dir)


def evaluation_record(context: EvalContext, callbacks: Sequence[EvalCallback]) -> dict:
    """One ``metrics.jsonl`` record: where training stands and what every callback returned."""
    started = time.perf_counter()
    record = {"kind": "eval", "step": context.step, "clips": context.clips, "minutes": context.minutes}
    for callback in callbacks:
        record |= callback(context)
    return record | {"eval_seconds": time.perf_counter() - started}


def write_samples(task, ema, config: RunConfig, dataset, path: Path, device) -> None:
    """Sample the configured prompts with the EMA weights and write mp4 + GIF + JSON sidecar."""
    if not samples_text_to_video(task):
        return
    from cinediff.io import make_grid, write_video

    context = eval_context(task, ema, config, dataset, 0, {"train_seconds": 0.0}, device, path.parent)
    prompts = list(config.train.sample_prompts)
    videos = context.generate(prompts, list(range(len(prompts))))
    path.parent.mkdir(parents=True, exist_ok=True)
    grid = make_grid(videos.float().cpu())
    meta = {"prompts": prompts, "seeds": list(range(len(prompts))), "generation": vars(context.generation())}
    fps = first_item(dataset).get("fps") or 8
    write_video(path, grid, fps=fps, metadata=meta)
    write_video(path.with_suffix(".gif"), grid, fps=fps)


def _open_metrics(path: Path, start_step: int):
    """Append to metrics.jsonl, dropping records past ``start_step`` (a resumed run rewrites them)."""
    if path.exists():
        kept = []
        for number, line in enumerate(path.read_text().splitlines(), 1):
            try:
                record = json.loads(line) if line.strip() else None
            except json.JSONDecodeError:  # a torn line: the process died while writing it
                log.warning("%s line %d is not JSON (a run killed mid-write?); dropped", path, number)
                continue
            if isinstance(record, dict) and record.get("step", 0) <= start_step:
                kept.append(line)
        atomic_write_text(path, "".join(line + "\n" for line in kept))
    return open(path, "a")


