"""Whether a run may resume from a checkpoint: the settings that decide its numbers must match.

A resumed run repeats the interrupted one bit for bit only if everything outside the saved
state is the same: the caller's configuration tag, the model's checkpoint settings (e.g.
DataParallel's shard count, which decides the dropout streams), the batch size, and the
kind of scheduler and callbacks whose state the checkpoint holds. :func:`check_resumable`
compares them before anything is restored, so a refused run leaves the model untouched.
"""
from __future__ import annotations

import json

from ..utils.io import to_jsonable


def _same(a, b) -> bool:
    """Equal as JSON values (a tuple and a list with the same items are the same setting)."""
    return json.dumps(to_jsonable(a), sort_keys=True) == json.dumps(to_jsonable(b), sort_keys=True)


def _settings_difference(then: dict, now: dict) -> str:
    """'name: A in the checkpoint, B in this run' for every setting that differs."""
    parts = []
    for key in sorted(set(then) | set(now)):
        if not _same(then.get(key), now.get(key)):
            a = then[key] if key in then else "absent"
            b = now[key] if key in now else "absent"
            parts.append(f"{key}: {a} in the checkpoint, {b} in this run")
    return "; ".join(parts)


def check_resumable(trainer, path, meta: dict, batch_size) -> None:
    """Raise ValueError naming the first setting of ``trainer`` that differs from the checkpoint's."""
    fix = "use the same settings or delete the checkpoint"
    if not _same(meta.get("tag"), trainer.checkpoint_tag):
        raise ValueError(f"checkpoint {path} was written for checkpoint_tag {meta.get('tag')!r}, this run has "
                         f"{trainer.checkpoint_tag!r} (another configuration); {fix}")
    then, now = meta.get("settings") or {}, to_jsonable(trainer.model.checkpoint_settings())
    if not _same(then, now):
        raise ValueError(f"checkpoint {path} was written with other model settings "
                         f"({_settings_difference(then, now)}); a resumed run repeats the interrupted one only with the same settings: {fix}")
    if meta.get("batch_size") != batch_size:
        raise ValueError(f"checkpoint {path} was written with batch_size={meta.get('batch_size')}, "
                         f"this run has batch_size={batch_size}; {fix}")
    saved = meta.get("scheduler")
    now_type = None if trainer.scheduler is None else type(trainer.scheduler).__name__
    if (saved or {}).get("type") != now_type:
        raise ValueError(f"checkpoint {path} was written with scheduler {(saved or {}).get('type')}, "
                         f"this run has {now_type}; {fix}")
    then_cbs = [c["type"] for c in meta.get("callbacks", [])]
    now_cbs = [type(cb).__name__ for cb in trainer.callbacks]
    if then_cbs != now_cbs:
        raise ValueError(f"checkpoint {path} was written with callbacks {then_cbs}, this run has {now_cbs}; {fix}")
