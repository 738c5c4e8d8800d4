"""Building config dataclasses from plain values (TOML tables, JSON)."""

from __future__ import annotations

import dataclasses


def make_config(cls, args: dict):
    """Build config dataclass ``cls`` from plain values: lists become tuples where the field's
    default is a tuple; unknown keys are a clear error."""
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = set(args) - fields
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s) {sorted(unknown)}; valid: {sorted(fields)}")
    defaults = cls()
    return cls(**{k: tuple(v) if isinstance(v, list) and isinstance(getattr(defaults, k), tuple) else v
                  for k, v in args.items()})
