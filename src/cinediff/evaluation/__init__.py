"""Video metrics (METHODS.md "Metrics used by these papers") and the moving-shapes judge.

* :func:`fvd` - Fréchet Video Distance with an I3D the user supplies (:func:`load_i3d`:
  TorchScript ``i3d_torchscript.pt`` or a pytorch-i3d state dict); reports N, frames, size.
* :func:`clipsim` - mean CLIP image-text cosine over frames (raw, x1), CLIP from a local dir.
* :func:`judge_video` / :func:`judge_batch` - does a video show the prompt's color, shape,
  motion and number of objects? (moving-shapes prompts; no network needed)
* :func:`temporal_consistency`, :func:`flicker` - frame-to-frame smoothness.
* :func:`frechet_distance`, :func:`feature_statistics` - the Fréchet core (float64).
* :mod:`.report` - ``cinediff eval``: generate for a prompt set, score against real clips
  (Fréchet distances with a real-vs-real floor), plots and an HTML page.
"""

from .clipsim import CLIP, clipsim, load_clip
from .frechet import feature_statistics, frechet_distance, frechet_distance_of_features
from .fvd import I3D, FVDResult, fvd, fvd_from_features, i3d_features, load_i3d
from .i3d import InceptionI3d
from .judge import ATTRIBUTES, judge_batch, judge_video
from .temporal import flicker, pixel_features, temporal_consistency

__all__ = [
    "ATTRIBUTES", "CLIP", "I3D", "FVDResult", "InceptionI3d", "clipsim", "feature_statistics", "flicker",
    "frechet_distance", "frechet_distance_of_features", "fvd", "fvd_from_features", "i3d_features",
    "judge_batch", "judge_video", "load_clip", "load_i3d", "pixel_features", "temporal_consistency",
]
