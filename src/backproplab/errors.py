"""How the command line reports an error: one line, naming the problem and the fix.

Expected failures (bad options, missing or damaged files, a folder in use, a run that diverged,
a full or read-only disk, Ctrl-C) print ``PROG: error: MESSAGE`` and exit with status 2 for a
usage error (the command line must change) or 1 for a failure. Anything else is a bug in
backproplab: its traceback is printed with a line asking for a report. ``--debug`` (or
``BACKPROPLAB_DEBUG=1``) shows the traceback of every error.
"""
from __future__ import annotations

import errno
import os
import sys
import traceback

#: exit status of a usage error (as argparse) and of a failure
USAGE, FAILURE, INTERRUPTED = 2, 1, 130


class UsageError(ValueError):
    """The command line must change: a bad option value, an unknown name, a folder with other settings."""


def _usage_errors() -> tuple:
    return (UsageError,)


def _failures() -> tuple:
    from .labs.run_folder import RunLocked

    return RunLocked, OSError, ValueError, FloatingPointError, RuntimeError, RecursionError, MemoryError, ImportError


def _os_message(e: OSError, out: str = "--out") -> str:
    where = f" {e.filename}" if getattr(e, "filename", None) else ""
    if e.errno == errno.ENOSPC:
        return f"the disk is full (writing{where}); free some space or pass another {out}"
    if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"cannot write{where}: {e.strerror}; pass an {out} folder you can write to"
    if e.errno == errno.ENOTDIR:
        return f"{e.filename or 'a path'} goes through a file, not a folder; pass another {out}"
    if e.errno == errno.EEXIST:
        return f"{e.filename or 'a path'} is a file where a folder is needed; pass another {out}"
    return str(e)


def message(e: BaseException, out: str = "--out") -> str:
    """One line for ``e``; ``out`` names the option or argument that says where outputs go."""
    if isinstance(e, OSError) and e.errno is not None and type(e) in (OSError, PermissionError, FileExistsError,
                                                                       NotADirectoryError, IsADirectoryError):
        return _os_message(e, out)
    if isinstance(e, RecursionError):
        return f"input nested too deeply to read ({e})"
    return str(e) or type(e).__name__


def run_command(prog: str, fn, debug: bool = False, out: str = "--out") -> int:
    """Call ``fn()`` and turn an expected exception into one line on stderr and an exit status.

    ``out`` is what the command calls the place it writes to (``--out``, ``--junit``, ``OUT_DIR``): an
    error writing there tells the user to pass another.
    """
    debug = debug or bool(os.environ.get("BACKPROPLAB_DEBUG"))
    try:
        return int(fn() or 0)
    except BrokenPipeError:  # `backproplab ... | head`: the reader has gone, which is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"\n{prog}: interrupted; finished steps are kept and a new run with the same settings "
              "resumes from them", file=sys.stderr)
        return INTERRUPTED
    except _usage_errors() as e:
        if debug:
            raise
        print(f"{prog}: error: {message(e, out)}", file=sys.stderr)
        return USAGE
    except _failures() as e:
        if debug:
            raise
        print(f"{prog}: error: {message(e, out)}", file=sys.stderr)
        return FAILURE
    except Exception:
        traceback.print_exc()
        print(f"{prog}: this is a bug in backproplab (an unexpected error); please report it with the "
              "traceback above", file=sys.stderr)
        return FAILURE
