"""The recipe study: which training recipe learns shape and motion fastest per CPU-minute.

Loss and colour accuracy say nothing about motion, so every candidate is trained for the same
budget of training minutes (``train.max_minutes``; evaluation excluded) with its learning curve
on (:class:`~cinediff.evaluation.curve.JudgeCurve`: the same prompts, seeds and sampler for all),
from the ``snap-video`` recipe (the FIT model shipped before this study) with the candidate's overrides. Every run uses a constant learning
rate after warm-up, so that cutting it at the budget does not favour one schedule.

Runs live in ``out_dir/<candidate>`` and resume: running the suite again with a larger budget
continues each run; a folder trained with another model or data config is refused. Rows: the
candidate, what it changes, steps / clips / minutes done, training clips per second, the last
point of its curve and the first minute at which shape and motion accuracy reached 0.5.
One plot holds every curve (``plot``, default ``out_dir/curves.png``).
"""

from __future__ import annotations

import json
from pathlib import Path
from statistics import median

LATENT = ['model.autoencoder="vae"', "model.backbone_args.in_channels=4", "model.backbone_args.out_channels=4",
          "model.backbone_args.patch_size=[1, 1, 1]", "model.backbone_args.base_size=[8, 8]",
          "model.formulation_args.sigma_data=1.0", "model.formulation_args.base_resolution=[8, 8]",
          "data.args.height=64", "data.args.width=64"]
UNET_LATENT = ['model.autoencoder="vae"', 'model.backbone="unet"', 'model.formulation="vp"',
               'model.formulation_args={prediction="v", beta="scaled_linear", zero_terminal_snr=true}',
               'model.backbone_args={in_channels=4, out_channels=4, block_channels=[64, 128, 128], '
               'attention_levels=[false, true, true], heads=4, temporal="attention"}', "optim.lr=2e-4",
               "data.args.height=64", "data.args.width=64"]
UNET = ['model.backbone="unet"', 'model.backbone_args={in_channels=3, out_channels=3, block_channels=[32, 64, 128], '
        'attention_levels=[false, false, true], heads=4, temporal="attention", temporal_head_dim=32}']


def unet_s2d(extra: str = "", patch_size: int = 2) -> list[str]:
    """A U-Net in pixels behind a 2x2 space-to-depth stem (levels at 16, 8, 4 px of a 32x32 frame)."""
    return ['model.backbone="unet"', f'model.backbone_args={{in_channels=3, out_channels=3, patch_size={patch_size}, '
            'block_channels=[32, 64, 128], attention_levels=[false, false, true], heads=4, norm_groups=16, '
            f'temporal="attention", temporal_head_dim=32{extra}}}', "optim.lr=5e-4"]


UNET_S2D = unet_s2d()
SMALL_CLIPS = ["data.args.frames=8", "data.args.height=16", "data.args.width=16", "data.args.fps=4.0",
               "model.formulation_args.base_resolution=[16, 16]"]
CLIPS_8X32 = ["data.args.frames=8", "data.args.fps=4.0"]
S2D_VIDEO = ["model.init_from={runs}/unet-pixel-s2d-image", "optim.lr=3e-4"]

RED_CIRCLE_MOTIONS = ("moving left", "moving right", "moving up", "moving down", "growing", "shrinking")
MOTION_ONLY = ['data.args.colors=["red"]', 'data.args.shapes=["circle"]', "data.args.max_objects=1",
               "data.args.held_out=[]",
               "train.eval_prompts=" + json.dumps([f"a red circle {m}" for m in RED_CIRCLE_MOTIONS] * 4)]

SWEEP = ["data.args.track={travel=[1.0, 1.0], scale_change=[2.5, 3.0]}"]  # motion as large as the frame allows

BASE_RECIPE = "snap-video"  # every candidate: this recipe plus its overrides
# name -> (what it changes, overrides of the default recipe, eval_every steps ≈ 3 CPU-minutes)
CANDIDATES: dict[str, tuple[str, list[str], int]] = {
    "fit-pixel": ("baseline: the shipped default's recipe (FIT, 1x4x4 patches, 16x32x32 pixels)", [], 250),
    "fit-latent": ("FIT on the shipped frame VAE's 4x8x8 latents of 16x64x64 clips, 1x1x1 patches", LATENT, 150),
    "fit-pixel-patch2": ("FIT with 1x2x2 patches (4x the patch tokens)", ["model.backbone_args.patch_size=[1, 2, 2]"],
                         100),
    "fit-pixel-pos": ("FIT whose patch positions start as loud as the noisy patch content (init std 0.02 -> 0.5)",
                      ["model.backbone_args.pos_init_std=0.5"], 250),
    "fit-pixel-selfcond": ("FIT with RIN's latent self-conditioning in training (p = 0.9; sampling reuses latents)",
                           ["model.backbone_args.self_conditioning_prob=0.9"], 200),
    "fit-pixel-high-noise": ("training noise moved up: EDM P_mean -1.2 -> 0", ["model.formulation_args.P_mean=0.0"],
                             250),
    "unet-latent": ("the Latent-Shift / PYoCo U-Net (VP v-prediction, temporal attention) on the frame VAE's "
                    "latents of 16x64x64 clips, from scratch", UNET_LATENT, 100),
    "unet-pixel-s2d": ("a U-Net in pixels behind a 2x2 space-to-depth stem (levels at 16, 8, 4 px), temporal "
                       "attention, EDM + sigma_in as the baseline", UNET_S2D, 120),
    "unet-pixel-s2d-image": ("stage 1 of two: unet-pixel-s2d trained on single frames (batches of 96 images; the "
                             "temporal layers are skipped at T = 1)",
                             [*UNET_S2D, "data.image_batch_fraction=1.0", "data.batch_size=96"], 300),
    "unet-pixel-s2d-video": ("stage 2: unet-pixel-s2d-image's weights fine-tuned on clips (new temporal layers start "
                             "at zero: the image model per frame)",
                             [*UNET_S2D, *S2D_VIDEO], 120),
    "unet-pixel-s2d-video-frames": ("stage 2 with a frame-index embedding added to each frame's time embedding "
                                    "(zero-init): spatial layers know when they are",
                                    [*unet_s2d(", frame_embedding=true"), *S2D_VIDEO], 120),
    "unet-pixel-s2d-video-tdiff": ("stage 2 with the frame-difference loss term (model.temporal_loss_weight = 2: "
                                   "same minimiser, a static object that should move costs more)",
                                   [*UNET_S2D, *S2D_VIDEO, "model.temporal_loss_weight=2.0"], 120),
    "unet-pixel-s2d-motion-only": ("diagnostic: unet-pixel-s2d-video on clips of one red circle (only position, "
                                   "size and motion vary): can this network learn motion when nothing else varies?",
                                   [*UNET_S2D, *S2D_VIDEO, *MOTION_ONLY], 120),
    "unet-pixel-s2d-motion-only-pooled": ("the motion-only diagnostic with the prompt's mean token state added to "
                                          "the time embedding (UNetConfig.text_embedding): every block of every frame "
                                          "gets the whole prompt, not only the 4x4 cross-attention",
                                          [*unet_s2d(", text_embedding=true"), *S2D_VIDEO, *MOTION_ONLY], 120),
    "unet-pixel-16-motion-only": ("the motion-only diagnostic at 8 frames of 16x16 at 4 fps (the same motions, 8x "
                                  "fewer numbers per clip: Show-1's keyframe stage), a U-Net with levels at 16, 8, "
                                  "4 px from scratch, pooled text in the time embedding",
                                  [*SMALL_CLIPS, *unet_s2d(", text_embedding=true", patch_size=1), *MOTION_ONLY], 600),
    "unet-pixel-16-motion-only-b48": ("unet-pixel-16-motion-only with batches of 48 clips (4x the clips per step, "
                                      "a less noisy gradient for the direction signal)",
                                      [*SMALL_CLIPS, *unet_s2d(", text_embedding=true", patch_size=1), *MOTION_ONLY,
                                       "data.batch_size=48"], 200),
    "unet-pixel-16-motion-only-hn": ("unet-pixel-16-motion-only-b48 trained at higher noise (EDM P_mean -1.2 -> 0.5): "
                                     "the direction is only unknown, so the prompt only informative, at high noise",
                                     [*SMALL_CLIPS, *unet_s2d(", text_embedding=true", patch_size=1), *MOTION_ONLY,
                                      "data.batch_size=48", "model.formulation_args.P_mean=0.5"], 150),
    "unet-pixel-16-motion-only-i2v": ("unet-pixel-16-motion-only-b48 conditioned on the clip's first frame (the "
                                      "keyframes-interpolation target with stride = T: frame 0 + mask as input "
                                      "channels): given the object, the motion word moves all of it, a first-order "
                                      "signal (Emu Video's text -> image -> video factorisation); no judge curve, "
                                      "see scratch diagnostics",
                                      [*SMALL_CLIPS, *unet_s2d(", text_embedding=true, cond_channels=4", patch_size=1),
                                       *MOTION_ONLY, "data.batch_size=48", 'model.target="keyframes-interpolation"',
                                       "model.target_args={stride=8}"], 0),
    "unet-pixel-16-motion-only-st": ("unet-pixel-16-motion-only-b48 whose 4x4 attention level attends over all "
                                     "frames at once (spacetime_attention: 8x16 tokens) and whose frames know their "
                                     "index (frame_embedding)",
                                     [*SMALL_CLIPS, *unet_s2d(", text_embedding=true, spacetime_attention=true, "
                                                              "frame_embedding=true", patch_size=1),
                                      *MOTION_ONLY, "data.batch_size=48"], 200),
    "unet-pixel-16-motion-only-sweep": ("unet-pixel-16-motion-only-b48 on clips whose objects sweep the whole frame "
                                        "(travel 1.0: 'moving left' starts at the right edge, scale change 2.5-3x): "
                                        "the motion word changes the mean clip, a first-order signal at high noise "
                                        "like colour's",
                                        [*SMALL_CLIPS, *unet_s2d(", text_embedding=true", patch_size=1), *MOTION_ONLY,
                                         "data.batch_size=48", *SWEEP], 150),
    "unet-pixel-16-motion-only-sweep-frames": ("unet-pixel-16-motion-only-sweep whose frames know their index "
                                               "(frame_embedding): the sweep binds the motion's axis, its sign "
                                               "('left' vs 'right' have the same time-averaged clip) needs the "
                                               "text x frame-index interaction in every block",
                                               [*SMALL_CLIPS, *unet_s2d(", text_embedding=true, frame_embedding=true",
                                                                        patch_size=1),
                                                *MOTION_ONLY, "data.batch_size=48", *SWEEP], 150),
    "unet-pixel-16-motion-only-sweep-hn": ("unet-pixel-16-motion-only-sweep at higher noise (EDM P_mean -1.2 -> "
                                           "0.5): the motion's sign (frame order x text) is only unknown, so the "
                                           "word only informative, while the object is not yet visible",
                                           [*SMALL_CLIPS, *unet_s2d(", text_embedding=true", patch_size=1),
                                            *MOTION_ONLY, "data.batch_size=48", *SWEEP,
                                            "model.formulation_args.P_mean=0.5"], 150),
    "unet-pixel-16-motion-only-sweep-frametext": ("unet-pixel-16-motion-only-sweep with an MLP of [prompt, frame "
                                                  "index] in every frame's time embedding (frame_text_embedding): "
                                                  "the sweep binds the axis; the sign is the prompt x frame-order "
                                                  "interaction, given here directly",
                                                  [*SMALL_CLIPS, *unet_s2d(", text_embedding=true, "
                                                                           "frame_text_embedding=true", patch_size=1),
                                                   *MOTION_ONLY, "data.batch_size=48", *SWEEP], 150),
    "unet-pixel-16-motion-only-sweep-coords": ("unet-pixel-16-motion-only-sweep-frames with (t, y, x) coordinate "
                                               "input channels (coord_channels, CoordConv): where the object must "
                                               "be in frame t for this word is then a linear function of the "
                                               "input, not something the convs must infer from the zero padding",
                                               [*SMALL_CLIPS, *unet_s2d(", text_embedding=true, frame_embedding=true, "
                                                                        "coord_channels=true", patch_size=1),
                                                *MOTION_ONLY, "data.batch_size=48", *SWEEP], 150),
    "unet-pixel-16-motion-only-sweep-product": ("unet-pixel-16-motion-only-sweep-frames plus the bilinear prompt x "
                                                "frame-position term in every frame's time embedding "
                                                "(frame_text_product): the sign of a motion as one product of two "
                                                "normalised factors, not built from an MLP's curvature",
                                                [*SMALL_CLIPS, *unet_s2d(", text_embedding=true, frame_embedding=true, "
                                                                         "frame_text_product=true", patch_size=1),
                                                 *MOTION_ONLY, "data.batch_size=48", *SWEEP], 150),
    "unet-pixel-16-motion-only-sweep-product-attn": ("unet-pixel-16-motion-only-sweep-product whose product reads "
                                                     "the prompt through a learned attention pooling of its tokens "
                                                     "(frame_text_attention): the motion word's own state, not the "
                                                     "mean of all tokens where 'left' and 'right' are 0.97 alike",
                                                     [*SMALL_CLIPS, *unet_s2d(", text_embedding=true, frame_embedding="
                                                                              "true, frame_text_product=true, "
                                                                              "frame_text_attention=true", patch_size=1),
                                                      *MOTION_ONLY, "data.batch_size=48", *SWEEP], 150),
    "unet-pixel-32-sweep-product": ("the motion recipe on the whole data set (every colour, shape, motion, one or two "
                                    "objects) at the default's 32x32 frames: 8 frames at 4 fps, the U-Net behind a "
                                    "2x2 space-to-depth stem (levels at 16, 8, 4 px), sweep tracks, pooled text, "
                                    "frame index and frame_text_product in the time embedding, batches of 48",
                                    [*CLIPS_8X32, *unet_s2d(", text_embedding=true, frame_embedding=true, "
                                                            "frame_text_product=true"),
                                     "data.batch_size=48", *SWEEP], 150),
    "unet-pixel": ("a small U-Net with temporal attention in pixels (VDM-style)", UNET, 30),
    "fit-latent-8f": ("fit-latent on 8 frames at 4 fps (the same motion in half the frames)",
                      [*LATENT, "data.args.frames=8", "data.args.fps=4.0", "model.backbone_args.base_frames=8"], 250),
}
STUDY = ["optim.schedule=\"constant\"", "train.steps=1000000", "train.sample_every=0", "train.checkpoint_every=100"]
QUICK = ["model.backbone_args.dim=32", "model.backbone_args.latent_dim=32", "model.backbone_args.num_blocks=1",
         "data.batch_size=2", "optim.warmup_steps=1"]


def candidate_config(name: str, out_dir: Path, minutes: float, eval_num: int, quick: bool = False):
    from cinediff.bench.runs import arm_config

    about, overrides, eval_every = CANDIDATES[name]
    overrides = [o.replace("{runs}", json.dumps(str(out_dir))[1:-1]) for o in overrides]  # stage 2 reads stage 1's run
    study = [*STUDY, f"train.max_minutes={minutes}", f"train.eval_every={2 if quick else eval_every}",
             f"train.eval_num={eval_num}", *(["train.eval_steps=2"] + QUICK if quick else [])]
    return arm_config(BASE_RECIPE, out_dir / name, [*overrides, *study])


def train_candidate(config) -> list[dict]:
    """Train (or continue) one candidate to its budget; its learning curve."""
    from cinediff.bench.runs import check_resumable
    from cinediff.evaluation.curve import JudgeCurve, read_curve
    from cinediff.training.trainer import train

    check_resumable(config)
    run_dir = train(config, callbacks=[JudgeCurve()])
    return read_curve(run_dir / "metrics.jsonl")


def first_minutes(curve: list[dict], key: str, level: float = 0.5) -> float | None:
    """Training minutes of the first curve point with ``key`` ≥ ``level`` (None: never)."""
    return next((r["minutes"] for r in curve if (r.get(key) or 0) >= level), None)


def summary_row(name: str, config, curve: list[dict]) -> dict:
    records = [json.loads(line) for line in (Path(config.train.out_dir) / "metrics.jsonl").read_text().splitlines()]
    speeds = [r["samples_per_s"] for r in records if "samples_per_s" in r]
    last = curve[-1] if curve else {}
    row = {"candidate": name, "about": CANDIDATES[name][0], "steps": last.get("step"), "clips": last.get("clips"),
           "minutes": last.get("minutes"), "clips_per_s": median(speeds) if speeds else None}
    row |= {k.removeprefix("accuracy_"): last.get(k) for k in ("accuracy_color", "accuracy_shape", "accuracy_motion",
                                                                "accuracy_count", "accuracy_all", "moving")}
    row |= {"best_all": max((r.get("accuracy_all") or 0 for r in curve), default=None),
            "minutes_to_shape_0.5": first_minutes(curve, "accuracy_shape"),
            "minutes_to_motion_0.5": first_minutes(curve, "accuracy_motion")}
    return row


def run(quick: bool = False, candidates: tuple[str, ...] | None = None, minutes: float = 15.0, eval_num: int = 24,
        out_dir: str = "runs/bench-recipes", plot: str | None = None) -> dict:
    """Train every candidate (default: all of :data:`CANDIDATES`) for ``minutes`` of training time."""
    from cinediff.evaluation.curve import plot_curve

    names = list(candidates or CANDIDATES)
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        raise ValueError(f"unknown recipe candidate(s) {unknown}; choose from {sorted(CANDIDATES)}")
    if quick:
        minutes, eval_num = 0.02, 2
    out = Path(out_dir)
    curves, rows = {}, []
    for name in names:
        config = candidate_config(name, out, minutes, eval_num, quick)
        curves[name] = train_candidate(config)
        rows.append(summary_row(name, config, curves[name]))
    plot_path = plot_curve([], Path(plot) if plot else out / "curves.png", curves=curves)
    best = max(rows, key=lambda r: ((r["shape"] or 0) + (r["motion"] or 0), r["all"] or 0))
    return {"rows": rows, "curves": curves,
            "ratios": {"best_candidate": best["candidate"], "best_shape_plus_motion": (best["shape"] or 0) + (best["motion"] or 0)},
            "input": {"minutes": minutes, "eval_num": eval_num, "out_dir": str(out), "plot": str(plot_path),
                      "common_overrides": STUDY},
            "notes": ["minutes: training time (evaluation excluded) on this machine; equal budget per candidate",
                      "accuracies: the judge on the same eval prompts and seeds (curve_prompts), 24 Heun steps"]}
