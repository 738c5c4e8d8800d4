"""cinediff: efficient text-to-video diffusion in one coherent codebase.

Folders follow the architecture: ``noise`` (video noise priors), ``diffusion``
(formulations as preconditioning wrappers), ``samplers`` (stateless sampling functions),
``text`` (text encoders), ``io`` (video files), ``data``, ``cli``.
"""

__version__ = "0.1.0"
