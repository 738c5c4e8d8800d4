"""Why a model does not make the video its prompt asks for: diagnostics of one model.

1. **Partial noising** (SDEdit): real moving-shapes clips, noised to ``strength`` s and denoised
   by the model with their own captions, then judged. The strength where shape or motion
   accuracy falls off is the noise level at which the model can no longer form or move objects
   (s = 1 is generation from pure noise).
2. **Motion-word test**: the denoising loss of real clips, per noise level σ, with the true
   caption and with every motion word swapped for its opposite (left ↔ right, up ↔ down,
   growing ↔ shrinking), same clips, same noise. ``gap`` = swapped − true > 0 where the model
   uses the word; no gap means it ignores it.
   **Motion-word signal**: how much the word *could* help — the share of the variance of the
   model's own training clips that their motion words explain (per frame, and with the frames
   averaged: the part that does not need the frame order).
   **Prompt response**: what the denoiser does with the word. The RMS difference of its outputs
   D(x; σ, prompt) for two prompts that differ only in the motion word, on the same inputs (pure
   noise × σ, where sampling starts). Opposite words (left / right, up / down, growing /
   shrinking: the same time-averaged clip) are compared with words of another axis (left / up).
   ``sign_vs_axis`` ≈ 0 means the model tells the axis but not the direction apart.
   **Binding test**: the same loss on two-object clips of the model's own training data, with the
   true caption and with the two objects' motions (or shapes) exchanged: "a red box moving left
   and a blue ball moving up" against "a red box moving up and a blue ball moving left". Both
   captions name the same words; only which object each belongs to differs, so ``gap`` > 0 only
   where the model binds a word to its object (clips whose two objects share the attribute are
   left out).
3. **Linear probe**: can a linear classifier read the motion (and colour, shape) from what the
   backbone receives, the text encoder's token states (mean over the prompt's tokens)? Trained
   on captions of one seed, tested on another's; near-chance accuracy would put the blame on
   the text encoder rather than the backbone. The same probes trained on the widest training
   vocabulary (``rich`` captions) and tested on the same objects said in held-out words
   (``builtin-reworded``: "crimson", "azure", "cube", "gliding"...) bound what a model conditioned
   on those states can learn to carry over to wording it never saw.
"""

from __future__ import annotations

import math
from statistics import fmean

import torch
import torch.nn.functional as F

from cinediff.data.attributes import COLORS, MOTIONS, SHAPES
from cinediff.text.encoders import masked_mean

OPPOSITE_MOTION = {"left": "right", "right": "left", "up": "down", "down": "up",
                   "growing": "shrinking", "shrinking": "growing"}
STRENGTHS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
DIAGNOSE_SEED = 4321  # real clips of the diagnostics (not the eval set's PROMPT_SEED)


def training_clips(loaded, num: int, seed: int = DIAGNOSE_SEED, **overrides):
    """``num`` clips from the data the model was trained on (its config's moving-shapes arguments,
    another seed; ``overrides``: other MovingShapesConfig fields, e.g. ``two_object_prob=1.0``) at
    its decoded size, and their records."""
    args = {k: v for k, v in loaded.config.get("data", {}).get("args", {}).items()
            if k not in ("frames", "height", "width", "seed", "length", "split")}
    return real_set(loaded.pixel_shape(), num, seed, **(args | overrides))


def real_set(shape_thw: tuple[int, int, int], num: int, seed: int = DIAGNOSE_SEED, split: str = "train", **args):
    """``num`` moving-shapes clips (N, 3, T, H, W) at the given size and their records (``args``:
    other MovingShapesConfig fields)."""
    from cinediff.data.shapes import MovingShapes

    frames, height, width = shape_thw
    data = MovingShapes(frames=frames, height=height, width=width, seed=seed, split=split, length=max(num, 1), **args)
    return data.render_batch(range(num))


def swapped_caption(record: dict, index: int, seed: int = DIAGNOSE_SEED, split: str = "train") -> str:
    """Clip ``index``'s caption with every object's motion replaced by its opposite, written with the
    same template and the same synonyms (the caption's own random stream)."""
    from cinediff.data.shapes import caption_rng, write_caption

    objects = [o | {"motion": OPPOSITE_MOTION[o["motion"]]} for o in record["objects"]]
    return write_caption(objects, record.get("vocabulary", "base"), caption_rng(seed, split, index))[0]


def exchanged_caption(record: dict, index: int, attribute: str, seed: int = DIAGNOSE_SEED,
                      split: str = "train") -> str | None:
    """A two-object clip's caption with the objects' ``attribute`` ("motion", "shape", "color")
    exchanged, written with the same template and synonyms; None for other clips and where the
    two objects share it."""
    from cinediff.data.shapes import caption_rng, exchanged_objects, write_caption

    exchanged = exchanged_objects(record["objects"], attribute)
    if exchanged is None:
        return None
    return write_caption(exchanged, record.get("vocabulary", "base"), caption_rng(seed, split, index))[0]


def to_model_space(loaded, clips: torch.Tensor) -> torch.Tensor:
    """Pixel clips → what the denoiser models (its autoencoder's latents for latent models)."""
    return loaded.decoder.encode(clips) if loaded.decoder is not None else clips


# ---------------------------------------------------------------- 1. partial noising


@torch.no_grad()
def partial_noising(loaded, clips, records, strengths=STRENGTHS, batch_size: int = 16, device="cpu",
                    generation: dict | None = None) -> list[dict]:
    """Judge accuracies (and ``moving``) of SDEdit reconstructions of ``clips`` at each strength."""
    from cinediff.evaluation.curve import judge_scores
    from cinediff.models.generate import generate

    prompts = [r["caption"] for r in records]
    rows = []
    for strength in strengths:
        config = loaded.generation_config({**(generation or {}), "strength": float(strength)})
        videos = []
        for start in range(0, len(clips), batch_size):
            part = clips[start:start + batch_size].to(device)
            videos.append(generate(loaded, prompts[start:start + len(part)], list(range(start, start + len(part))),
                                   config, device, init=to_model_space(loaded, part)).float().cpu())
        rows.append({"strength": float(strength), **judge_scores(torch.cat(videos), prompts)})
    return rows


# ---------------------------------------------------------------- 2. motion-word test


def sigma_bins(denoiser, num: int = 8) -> list[float]:
    """``num`` noise levels, geometric between the denoiser's default sampling σ_min and σ_max."""
    lo, hi = math.log(max(float(denoiser.sigma_min), 1e-3)), math.log(float(denoiser.sigma_max))
    return [math.exp(lo + (hi - lo) * i / (num - 1)) for i in range(num)]


@torch.no_grad()
def caption_losses(denoiser, text_encoder, x0: torch.Tensor, captions: list[str], sigmas: list[float],
                   seed: int = 0, batch_size: int = 16) -> torch.Tensor:
    """Mean denoising loss (the formulation's own, ``Precond.loss``) per σ, shape (len(sigmas),):
    each clip noised with the same seeded noise whatever the captions."""
    from cinediff.text import reads_token_ids, text_condition

    ids = reads_token_ids(denoiser)
    losses = torch.zeros(len(sigmas))
    for start in range(0, len(x0), batch_size):
        part = x0[start:start + batch_size]
        cond = text_condition(text_encoder, captions[start:start + len(part)], ids) if text_encoder is not None else {}
        generator = torch.Generator().manual_seed(seed + start)
        for i, sigma in enumerate(sigmas):
            noise = torch.randn(part.shape, generator=generator).to(part.device)
            sigma_batch = torch.full((len(part),), sigma, device=part.device)
            losses[i] += denoiser.loss(part, sigma_batch, noise, **cond).sum().cpu()
    return losses / len(x0)


def caption_gaps(loaded, x0: torch.Tensor, true: list[str], other: list[str], num_sigmas: int,
                 name: str) -> list[dict]:
    """Per σ bin: loss with the ``true`` captions, with the ``other`` ones (key ``loss_<name>``), the
    gap other − true and the gap relative to the true loss; same clips, same noise."""
    sigmas = sigma_bins(loaded.denoiser, num_sigmas)
    losses = (caption_losses(loaded.denoiser, loaded.text_encoder, x0, captions, sigmas) for captions in (true, other))
    return [{"sigma": s, "loss_true": float(t), f"loss_{name}": float(w), "gap": float(w - t),
             "relative_gap": float((w - t) / t) if t > 0 else float("nan")}
            for s, t, w in zip(sigmas, *losses)]


def motion_word_test(loaded, clips, records, num_sigmas: int = 8, device="cpu") -> list[dict]:
    """Per σ bin: loss with the true captions, with the motion words swapped, and the gap."""
    x0 = to_model_space(loaded, clips.to(device))
    return caption_gaps(loaded, x0, [r["caption"] for r in records],
                        [swapped_caption(r, i) for i, r in enumerate(records)], num_sigmas, "swapped")


def binding_test(loaded, clips, records, attribute: str = "motion", num_sigmas: int = 8, device="cpu") -> list[dict]:
    """Per σ bin: loss of the two-object clips with the true captions and with the objects'
    ``attribute`` exchanged (:func:`exchanged_caption`), the gap, and how many clips were used."""
    exchanged = [exchanged_caption(r, i, attribute) for i, r in enumerate(records)]
    used = [i for i, caption in enumerate(exchanged) if caption is not None]
    if not used:
        raise ValueError(f"binding test: no clip has two objects that differ in {attribute}")
    x0 = to_model_space(loaded, clips[used].to(device))
    rows = caption_gaps(loaded, x0, [records[i]["caption"] for i in used], [exchanged[i] for i in used], num_sigmas,
                        "exchanged")
    return [{"attribute": attribute, "clips": len(used)} | row for row in rows]


# ---------------------------------------------------------------- 2b. how much the word could help


def explained_fraction(x: torch.Tensor, labels: list) -> float:
    """1 − within-label variance / total variance of ``x`` (N, ...) (η², the between-class share):
    what knowing the label saves the best predictor of x, i.e. the optimal denoiser's gain from
    the word at σ → ∞ (E[x0 | word] instead of E[x0]), as a fraction of its loss there."""
    x = x.flatten(1).double()
    total = (x - x.mean(0)).pow(2).sum()
    within = x.new_zeros(())
    for label in set(labels):
        group = x[torch.tensor([lab == label for lab in labels])]
        within += (group - group.mean(0)).pow(2).sum()
    return float(1 - within / total) if total > 0 else 0.0


def motion_word_signal(clips: torch.Tensor, records: list[dict]) -> dict:
    """How much the motion words of ``records`` explain of their clips (B, C, T, H, W): per frame
    (``explained``), and of the clips averaged over frames (``time_averaged``: the part that
    survives ignoring the frame order — the motion's axis and extent, not its sign; 'left' and
    'right' have the same time-averaged clip). The rest, ``explained − time_averaged``, needs the
    model to tie the word to the frame order."""
    labels = [tuple(sorted(o["motion"] for o in r["objects"])) for r in records]
    full, averaged = explained_fraction(clips, labels), explained_fraction(clips.mean(2), labels)
    return {"explained": full, "time_averaged": averaged, "frame_order": full - averaged}


# ---------------------------------------------------------------- 2c. what the model does with the word

RESPONSE_PAIRS = {"left/right": ("moving left", "moving right"), "up/down": ("moving up", "moving down"),
                  "growing/shrinking": ("growing", "shrinking"), "left/up": ("moving left", "moving up")}
SIGN_PAIRS = ("left/right", "up/down", "growing/shrinking")  # same time-averaged clip: only the frame order differs


@torch.no_grad()
def prompt_response(loaded, sigmas: list[float], num: int = 16, subject: str = "a red circle", seed: int = 0,
                    pairs: dict[str, tuple[str, str]] = RESPONSE_PAIRS, device="cpu") -> list[dict]:
    """Per σ: for each pair of motion words, RMS of D(x; σ, "<subject> <a>") − D(x; σ, "<subject> <b>") over
    ``num`` inputs x = σ · noise (the same for both), and ``sign_vs_axis``: the mean over the opposite-word
    pairs divided by the left / up pair's."""
    from cinediff.text import reads_token_ids, text_condition

    noise = torch.randn(num, *loaded.shape, generator=torch.Generator().manual_seed(seed)).to(device)
    words = sorted({w for pair in pairs.values() for w in pair})
    cond = {w: text_condition(loaded.text_encoder, [f"{subject} {w}"] * num, reads_token_ids(loaded.denoiser)) for w in words}
    rows = []
    for sigma in sigmas:
        sigma_batch = torch.full((num,), sigma, device=device)
        out = {w: loaded.denoiser(noise * sigma, sigma_batch, **cond[w]).float() for w in words}
        row = {"sigma": sigma} | {name: float((out[a] - out[b]).pow(2).mean().sqrt()) for name, (a, b) in pairs.items()}
        if "left/up" in row and all(name in row for name in SIGN_PAIRS):
            row["sign_vs_axis"] = fmean(row[name] for name in SIGN_PAIRS) / max(row["left/up"], 1e-12)
        rows.append(row)
    return rows


# ---------------------------------------------------------------- 3. linear probe


def single_object_records(num: int, seed: int, captions: str = "base") -> list[dict]:
    """Records of ``num`` one-object moving-shapes clips (attributes and caption only, no pixels),
    captioned in a training vocabulary (``base`` | ``wide`` | ``rich``)."""
    from cinediff.data.shapes import MovingShapes

    data = MovingShapes(seed=seed, max_objects=1, length=max(num, 1), captions=captions)
    return [data.attributes(i) for i in range(num)]


@torch.no_grad()
def prompt_features(text_encoder, prompts: list[str], batch_size: int = 64) -> torch.Tensor:
    """Mean of the token states over each prompt's tokens (N, D): the conditioning the backbone reads."""
    out = []
    for start in range(0, len(prompts), batch_size):
        emb = text_encoder.encode(prompts[start:start + batch_size])
        out.append(masked_mean(emb.tokens, emb.mask).float().cpu())
    return torch.cat(out)


def fit_linear_probe(features: torch.Tensor, labels: torch.Tensor, classes: int, steps: int = 300,
                     weight_decay: float = 1e-4) -> torch.nn.Linear:
    """Multinomial logistic regression on standardised features, full-batch L-BFGS."""
    torch.manual_seed(0)
    probe = torch.nn.Linear(features.shape[1], classes)
    optimizer = torch.optim.LBFGS(probe.parameters(), max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(probe(features), labels) + weight_decay * probe.weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return probe


def linear_probe(text_encoder, num_train: int = 512, num_test: int = 256) -> dict:
    """Test accuracy of linear probes of motion, colour and shape from :func:`prompt_features`:
    ``{name}_accuracy`` trained and tested on base captions (two seeds), ``reworded_{name}_accuracy``
    trained on rich captions and tested on the test objects in held-out wording."""
    from cinediff.data.captions import reworded_caption
    from cinediff.data.rng import item_rng

    test_records = single_object_records(num_test, 12)
    reworded = [reworded_caption(r["objects"], item_rng(12, i, "diagnose/reworded")) for i, r in enumerate(test_records)]
    out = {}
    for prefix, train_vocabulary, test_captions in (("", "base", [r["caption"] for r in test_records]),
                                                    ("reworded_", "rich", reworded)):
        train_records = single_object_records(num_train, 11, train_vocabulary)
        out |= probe_accuracies(text_encoder, train_records, test_records, test_captions, prefix)
    return out


def probe_accuracies(text_encoder, train_records, test_records, test_captions, prefix="") -> dict:
    """Accuracy of a linear probe per attribute (motion, colour, shape), trained on the train records'
    captions' :func:`prompt_features` (standardised by the train set), tested on ``test_captions``
    (the test records' objects, in whatever wording)."""
    vocab = {"motion": MOTIONS, "color": tuple(COLORS), "shape": SHAPES}
    feats = [prompt_features(text_encoder, captions) for captions in ([r["caption"] for r in train_records],
                                                                        test_captions)]
    mean, std = feats[0].mean(0), feats[0].std(0).clamp(min=1e-6)
    train_x, test_x = ((f - mean) / std for f in feats)
    out = {}
    for name, values in vocab.items():
        label = lambda rs: torch.tensor([values.index(r["objects"][0][name]) for r in rs])  # noqa: E731
        probe = fit_linear_probe(train_x, label(train_records), len(values))
        with torch.no_grad():
            out[f"{prefix}{name}_accuracy"] = float((probe(test_x).argmax(1) == label(test_records)).float().mean())
        out[f"{prefix}{name}_chance"] = 1 / len(values)
    return out


# ---------------------------------------------------------------- the suite


def run(model: str | None = None, num: int = 32, strengths: tuple[float, ...] = STRENGTHS, num_sigmas: int = 8,
        probe_train: int = 512, probe_test: int = 256, steps: int | None = None, quick: bool = False,
        device: str | None = None, signal_clips: int = 2000) -> dict:
    """All three diagnostics of ``model`` (an exported folder; default/None: the shipped one)."""
    from cinediff.models.loading import load_model
    from cinediff.runtime import default_device, prepare_cpu_math

    device = device or str(default_device())
    prepare_cpu_math(device)
    if quick:
        num, strengths, num_sigmas, probe_train, probe_test, steps, signal_clips = 4, (0.5, 1.0), 3, 48, 24, 2, 64
    loaded = load_model(None if model in (None, "default") else model, device)
    clips, records = real_set(loaded.pixel_shape(), num)
    generation = {"steps": steps} if steps else {}
    rows = [{"test": "partial_noising", **r}
            for r in partial_noising(loaded, clips, records, strengths, device=device, generation=generation)]
    word = motion_word_test(loaded, clips, records, num_sigmas, device)
    rows += [{"test": "motion_word", **r} for r in word]
    response = prompt_response(loaded, sigma_bins(loaded.denoiser, num_sigmas), min(num, 16), device=device) \
        if loaded.text_encoder is not None else []
    rows += [{"test": "prompt_response", **r} for r in response]
    signal, binding = {}, {}
    if loaded.config.get("data", {}).get("dataset", "moving-shapes") == "moving-shapes":
        signal = motion_word_signal(*training_clips(loaded, signal_clips))
        rows.append({"test": "motion_word_signal", **signal})
        if loaded.text_encoder is not None:
            pairs = training_clips(loaded, num, two_object_prob=1.0)
            binding = {a: binding_test(loaded, *pairs, a, num_sigmas, device) for a in ("motion", "shape")}
            rows += [{"test": "binding", **r} for found in binding.values() for r in found]
    probe = linear_probe(loaded.text_encoder, probe_train, probe_test) if loaded.text_encoder is not None else {}
    if probe:
        rows.append({"test": "linear_probe", **probe})
    ratios = {"mean_relative_gap": fmean(r["relative_gap"] for r in word if math.isfinite(r["relative_gap"]))}
    ratios |= {f"mean_relative_binding_gap_{a}": fmean(r["relative_gap"] for r in found) for a, found in binding.items()}
    ratios |= {f"probe_{k}": v for k, v in probe.items() if k.endswith("accuracy")}
    ratios |= {f"word_signal_{k}": v for k, v in signal.items()}
    if response:
        ratios["mean_sign_vs_axis_response"] = fmean(r["sign_vs_axis"] for r in response)
    return {"rows": rows, "ratios": ratios,
            "input": {"model": str(model or "default"), "shape": list(loaded.shape), "clips": num,
                      "clip_seed": DIAGNOSE_SEED, "device": device},
            "notes": ["partial_noising: s = 1 is generation from pure noise; accuracies of real clips are ~1",
                      "motion_word: gap = loss(swapped motion words) - loss(true caption); > 0: the model uses the word",
                      "binding: two-object clips of the model's training data; gap = loss(the objects' motions or "
                      "shapes exchanged) - loss(true caption); > 0: the model binds the word to its object",
                      "prompt_response: RMS of D(sigma * noise) between prompts differing only in the motion word; "
                      "sign_vs_axis = opposite-word pairs / left-vs-up (~0: the direction is not used)",
                      "linear_probe: token states averaged over the prompt; train seed 11, test seed 12, one object; "
                      "reworded_*: trained on rich captions, tested on the test objects in held-out wording",
                      "motion_word_signal: share of the variance of the model's own training clips the motion words "
                      "explain (the optimal gain from the word at high noise); time_averaged: ignoring frame order"]}
