"""Checkpoints without pickle: one ``.npz`` of plain arrays, written atomically.

Contents: ``model.<name>`` (state_dict), ``optim.<key>`` (optimizer state),
``meta`` (a JSON string: epoch, history, the state of every random generator
the run uses). Loading uses ``np.load(allow_pickle=False)``.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..utils.io import atomic_savez, load_npz


def generators_of(model) -> dict[str, np.random.Generator]:
    """Every np.random.Generator held by a module of ``model`` (e.g. Dropout's), by module path."""
    found = {}
    for path, m in model.named_modules():
        for attr, value in vars(m).items():
            if isinstance(value, np.random.Generator):
                found[f"{path}:{attr}"] = value
    return found


def save_checkpoint(path, model, optimizer, meta: dict, rngs: dict[str, np.random.Generator]) -> Path:
    arrays = {f"model.{k}": v for k, v in model.state_dict().items()}
    arrays.update({f"optim.{k}": v for k, v in optimizer.state_dict().items()})
    meta = dict(meta)
    meta["rng_states"] = {name: g.bit_generator.state for name, g in rngs.items()}
    arrays["meta"] = np.array(json.dumps(meta))
    return atomic_savez(path, **arrays)


def load_checkpoint(path, model, optimizer, rngs: dict[str, np.random.Generator], validate=None) -> dict:
    """Restore model, optimizer and generators from ``path``; return the meta dict.

    ``validate(meta)``, if given, runs before anything is restored: a run whose settings do not
    match the checkpoint's can refuse it and leave the model, optimizer and generators untouched.
    """
    path = Path(path)
    try:
        arrays = load_npz(path)
        meta = json.loads(str(arrays.pop("meta")))
    except (OSError, ValueError, KeyError) as e:
        raise ValueError(f"checkpoint {path} is unreadable ({e}); delete it to start the run afresh") from e
    if validate is not None:
        validate(meta)
    state = {k[6:]: v for k, v in arrays.items() if k.startswith("model.")}
    model.load_state_dict(state)
    optimizer.load_state_dict({k[6:]: v for k, v in arrays.items() if k.startswith("optim.")})
    saved = meta.get("rng_states", {})
    if set(saved) != set(rngs):
        raise ValueError(f"checkpoint {path} holds generators {sorted(saved)} but the run has {sorted(rngs)}; "
                         "was it written by a different model?")
    for name, g in rngs.items():
        g.bit_generator.state = saved[name]
    return meta
