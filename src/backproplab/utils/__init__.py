"""Small shared utilities: atomic file writes, JSON of NumPy values, memory and cores."""
from .io import atomic_write_bytes, atomic_write_json, atomic_write_text, atomic_savez, load_npz, to_jsonable
from .memory import retain_freed_memory
from .cores import available_cores, per_core_blocks
