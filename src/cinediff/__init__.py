"""cinediff: efficient text-to-video diffusion in one coherent codebase.

Folders follow the architecture: ``noise`` (video noise priors), ``diffusion``
(formulations as preconditioning wrappers), ``samplers`` (stateless sampling functions),
``text`` (text encoders), ``io`` (video files), ``data``, ``cli``.

The Python API (imported on first use, so ``import cinediff`` stays light)::

    import cinediff
    pipe = cinediff.load("default")
    out = pipe("a red circle moving left", seed=0)
    cinediff.export_to_video(out.frames[0], "out.mp4", fps=pipe.fps)
"""

__version__ = "0.1.0"

_API = ("load", "export_to_video", "TextToVideoPipeline", "VideoPipelineOutput")
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        from cinediff.pipelines import api

        return getattr(api, name)
    raise AttributeError(f"module 'cinediff' has no attribute {name!r}")
