"""The in-domain classifier: learns the built-in attributes, gives features for a Fréchet distance."""

import torch

from cinediff.data import build_dataset
from cinediff.evaluation.classifier import (
    INPUT,
    VideoClassifier,
    accuracy,
    classifier_loss,
    classifier_features,
    labels_of,
    load_classifier,
    save_classifier,
)
from cinediff.evaluation.frechet import frechet_distance_of_features


def test_labels_mask_absent_heads():
    shapes = build_dataset("moving-shapes", frames=4, height=16, width=16)
    digits = build_dataset("moving-digits", frames=4, height=32, width=32)
    labels = labels_of([shapes.attributes(0), digits.attributes(0)])
    assert labels["color"][0] >= 0 and labels["digit"][0] == -1 and labels["digit"][1] >= 0 and labels["shape"][1] == -1


def test_classifier_fits_a_batch_and_round_trips(tmp_path):
    data = build_dataset("moving-shapes", frames=INPUT[0], height=INPUT[1], width=INPUT[2], length=64)
    videos, records = data.render_batch(range(16))
    model = VideoClassifier()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for _ in range(25):
        loss = classifier_loss(model, videos, labels_of(records))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert accuracy(model.eval(), videos, records) == {"color": 1.0, "shape": 1.0, "motion": 1.0}
    save_classifier(model, tmp_path)
    loaded = load_classifier(tmp_path)
    torch.testing.assert_close(classifier_features(loaded, videos[:4]), classifier_features(model, videos[:4]))


def test_real_vs_real_floor_is_below_real_vs_noise():
    model = VideoClassifier().eval()
    data = build_dataset("moving-shapes", frames=8, height=32, width=32, length=400)
    a, _ = data.render_batch(range(0, 150))
    b, _ = data.render_batch(range(200, 350))
    feats = lambda v: classifier_features(model, v).double()  # noqa: E731
    floor = frechet_distance_of_features(feats(a), feats(b))
    noise = frechet_distance_of_features(feats(a), feats(torch.rand_like(b) * 2 - 1))
    assert 0 <= floor < noise / 3  # even random features separate real clips from noise
