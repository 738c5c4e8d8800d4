"""The README's gallery: the shipped default model's video for 8 prompts, one upscaled GIF each,
and the markdown table that shows them with their captions.

    .venv/bin/python benchmarks/gallery.py [--model DIR] [--out docs/gallery]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch.nn.functional as F

from cinediff.io import write_gif
from cinediff.models.generate import generate
from cinediff.pipelines import load_model

PROMPTS = ["a red circle moving left", "a blue square moving right", "a yellow triangle moving down",
           "a green circle growing", "a white square shrinking and an orange triangle moving up",
           "a red ball moving right and a blue box moving left", "a crimson sphere heading to the right",
           "an emerald ring zooming upward and a golden slab shrivels"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--out", default="docs/gallery")
    parser.add_argument("--size", type=int, default=128, help="GIF side in pixels (nearest-neighbour upscale)")
    args = parser.parse_args()
    loaded = load_model(args.model)
    config = loaded.generation_config()
    videos = generate(loaded, PROMPTS, list(range(len(PROMPTS))), config)  # prompts as the model reads them
    read_as = loaded.read_prompts(PROMPTS, config)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cells = []
    for i, (video, prompt, read) in enumerate(zip(videos, PROMPTS, read_as)):
        big = F.interpolate(video.float(), size=(args.size, args.size), mode="nearest")  # (C, T, H, W): T as batch
        write_gif(out / f"{i}.gif", big, fps=loaded.fps)
        how = f'read as "{read}", ' if read != prompt else ""
        cells.append((f"![{prompt}]({out.as_posix()}/{i}.gif)", f"{prompt} ({how}seed {i})"))
    rows = [cells[:4], cells[4:]]
    lines = []
    for row in rows:
        lines += [""] if lines else []
        lines += ["| " + " | ".join(c[0] for c in row) + " |", "| " + " | ".join("---" for _ in row) + " |",
                  "| " + " | ".join(c[1] for c in row) + " |"]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
