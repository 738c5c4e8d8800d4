"""The web demo (``cinediff demo``): a gradio page over the pipeline API; see :mod:`cinediff.demo.app`."""
