"""Checkpoints without pickle: one ``.npz`` of plain arrays, written atomically.

Contents: ``model.<name>`` (state_dict), ``optim.<key>`` (optimizer state),
``extra.<key>`` (other arrays, e.g. a callback's copy of the best weights) and ``meta`` (a
JSON string: the format, epoch, history, the state of every random generator the run uses,
and whatever else the caller records). Loading uses ``np.load(allow_pickle=False)``.

Loading is two steps, so that a run can refuse a checkpoint before anything changes:
:func:`read_checkpoint` parses the file (a damaged file is one clear ValueError), then
:func:`restore_checkpoint` checks that the model, optimizer and generators fit and only then
restores them.
"""
from __future__ import annotations

import json
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..utils.io import atomic_savez, load_npz

#: version of the layout; 2 records the format itself, settings, tag, scheduler and callbacks
FORMAT = 2
#: meta keys every checkpoint of this format has
REQUIRED_META = ("format", "epoch", "history", "rng_states")


def generators_of(model) -> dict[str, np.random.Generator]:
    """Every np.random.Generator held by a module of ``model`` (e.g. Dropout's), by module path."""
    found = {}
    for path, m in model.named_modules():
        for attr, value in vars(m).items():
            if isinstance(value, np.random.Generator):
                found[f"{path}:{attr}"] = value
    return found


def generators_in(obj, prefix: str, depth: int = 2) -> dict[str, np.random.Generator]:
    """Generators among the attributes of ``obj`` and of its attributes, ``depth`` levels down.

    For objects outside the model whose randomness a resumed run must repeat: a DataLoader's
    shuffling ``rng``, its batch sampler's, a data set's augmentation generator.
    """
    found = {}
    for attr, value in getattr(obj, "__dict__", {}).items():
        if isinstance(value, np.random.Generator):
            found[f"{prefix}:{attr}"] = value
        elif depth > 0 and hasattr(value, "__dict__") and not isinstance(value, (type, np.ndarray)):
            found.update(generators_in(value, f"{prefix}.{attr}", depth - 1))
    return found


def save_checkpoint(path, model, optimizer, meta: dict, rngs: dict[str, np.random.Generator],
                    extra: dict[str, np.ndarray] | None = None) -> Path:
    arrays = {f"model.{k}": v for k, v in model.state_dict().items()}
    arrays.update({f"optim.{k}": v for k, v in optimizer.state_dict().items()})
    arrays.update({f"extra.{k}": np.asarray(v) for k, v in (extra or {}).items()})
    meta = {**meta, "format": FORMAT, "rng_states": {name: g.bit_generator.state for name, g in rngs.items()}}
    arrays["meta"] = np.array(json.dumps(meta))
    return atomic_savez(path, **arrays)


def damaged(path, why) -> ValueError:
    return ValueError(f"checkpoint {path} is damaged ({why}); delete it to start the run afresh")


def read_checkpoint(path) -> tuple[dict, dict[str, np.ndarray]]:
    """(meta, arrays) of the checkpoint at ``path``; ValueError if it is damaged or of an older format."""
    path = Path(path)
    try:
        arrays = load_npz(path)
        meta = json.loads(str(arrays.pop("meta")))
    # what a truncated, emptied or bit-flipped .npz raises, from the zip, the .npy header or the JSON
    except (OSError, EOFError, ValueError, KeyError, SyntaxError, RuntimeError, MemoryError, zipfile.BadZipFile,
            zlib.error) as e:
        kind = type(e).__name__ if type(e).__module__ == "builtins" else f"{type(e).__module__}.{type(e).__name__}"
        raise damaged(path, f"{kind}: {e}") from e
    if not isinstance(meta, dict):
        raise damaged(path, "its meta record is not a JSON object")
    if meta.get("format", 1) != FORMAT:
        raise ValueError(f"checkpoint {path} was written by an older backproplab (checkpoint format "
                         f"{meta.get('format', 1)}, this one reads {FORMAT}); delete it to start the run afresh")
    missing = [k for k in REQUIRED_META if k not in meta]
    if missing:
        raise damaged(path, f"its meta record lacks {missing}")
    return meta, arrays


def _model_mismatch(model, state: dict) -> str | None:
    """What differs between ``state`` and the model's parameters and buffers (None: they fit)."""
    shapes = {name: p.data.shape for name, p in model.named_parameters()}
    shapes.update({name: np.shape(b) for name, b in model.named_buffers()})
    missing, unexpected = sorted(set(shapes) - set(state)), sorted(set(state) - set(shapes))
    if missing or unexpected:
        return f"missing keys {missing[:5]}, unexpected keys {unexpected[:5]}"
    for name, shape in shapes.items():
        if np.shape(state[name]) != shape:
            return f"{name} has shape {np.shape(state[name])} in the checkpoint, {shape} in the model"
    return None


def restore_checkpoint(path, meta: dict, arrays: dict, model, optimizer, rngs: dict[str, np.random.Generator]):
    """Check that model, optimizer and generators fit the checkpoint, then restore all three.

    Returns the ``extra.`` arrays (prefix removed). Raises ValueError, with nothing restored,
    if the checkpoint belongs to another model configuration, optimizer or set of generators.
    """
    state = {k[6:]: v for k, v in arrays.items() if k.startswith("model.")}
    mismatch = _model_mismatch(model, state)
    if mismatch:
        raise ValueError(f"checkpoint {path} belongs to another model configuration ({mismatch}); "
                         "use the same model settings or delete the checkpoint")
    optim_state = {k[6:]: v for k, v in arrays.items() if k.startswith("optim.")}
    try:
        optimizer.check_state_dict(optim_state)
    except ValueError as e:
        raise ValueError(f"checkpoint {path}: {e}; use the same optimizer settings or delete the checkpoint") from e
    saved = meta["rng_states"]
    if set(saved) != set(rngs):
        raise ValueError(f"checkpoint {path} holds generators {sorted(saved)} but the run has {sorted(rngs)}; "
                         "was it written by a different model or data pipeline? Delete it to start afresh")
    model.load_state_dict(state)
    optimizer.load_state_dict(optim_state)
    for name, g in rngs.items():
        g.bit_generator.state = saved[name]
    return {k[6:]: v for k, v in arrays.items() if k.startswith("extra.")}


def load_checkpoint(path, model, optimizer, rngs: dict[str, np.random.Generator], validate=None) -> dict:
    """Restore model, optimizer and generators from ``path``; return the meta dict.

    ``validate(meta)``, if given, runs before anything is restored: a run whose settings do not
    match the checkpoint's can refuse it and leave the model, optimizer and generators untouched.
    """
    meta, arrays = read_checkpoint(path)
    if validate is not None:
        validate(meta)
    restore_checkpoint(path, meta, arrays, model, optimizer, rngs)
    return meta
