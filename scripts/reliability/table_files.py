"""Probes of files: run folders, `backproplab report`, cached steps and checkpoints, and damaged
Fashion-MNIST, npz, SST and CIFAR-10 files."""
from __future__ import annotations

import fcntl
import gzip
import json
import pickle
from pathlib import Path

import numpy as np

from . import files
from .harness import Probe
from .table_cli import cli

#: a finished quick cnn run small enough to make in seconds (its checkpoint is damaged by the probes)
CNN = ("cnn", "--quick", "--train-size", "64", "--test-size", "32", "--num-epochs", "1", "--threads", "1")
GRAPH = ("graph", "--quick")
#: a quick run whose sub-experiments are cached steps (.steps/*.json)
STEPS = ("gaussian-dropout", "--quick")
_HELD: list = []  # lock files held by setups until the probe's check releases them


def graph_run(folder: Path, **changes) -> Path:
    """A run folder of ``graph --quick`` with ``changes`` (which may be out of range) that has not finished."""
    import dataclasses

    from backproplab.labs import graph

    config = graph.Config().quick()
    try:
        fingerprint = dataclasses.replace(config, **changes).fingerprint()
    except ValueError:
        fingerprint = "0" * 16
    return files.run_folder(folder, "graph", {**config.to_dict(), **changes}, fingerprint)


def _hold_lock(folder: Path) -> None:
    graph_run(folder / "run")
    f = open(folder / "run" / ".lock", "a+")
    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    f.write("pid 1234 since 2000-01-01 00:00:00")
    f.flush()
    _HELD.append(f)


def _release(folder: Path) -> None:
    while _HELD:
        _HELD.pop().close()


def _mounted(kind: str) -> str:
    """A shell prefix that makes ``fs`` a read-only or full file system (a tmpfs when root, else chmod)."""
    if kind == "ro":
        return ("mkdir fs && if [ \"$(id -u)\" = 0 ]; then mount -t tmpfs -o size=1m,ro tmpfs fs; "
                "else chmod 555 fs; fi")
    return ("mkdir fs && mount -t tmpfs -o size=64k tmpfs fs && "
            "(dd if=/dev/zero of=fs/fill bs=1k count=64 2>/dev/null; true)")


def run_folders(runs: files.FinishedRuns) -> list[Probe]:
    f = "run folders (--out)"
    graph = ("lab", "graph", "--quick", "--out", "run")
    mk = files.run_folder
    return [
        Probe("rf-other-settings", f, "a folder holding a run with another --seed", argv=graph, status=2,
              words=("--seed 5 -> 0", "--overwrite"), fast=True,
              setup=lambda d: graph_run(d / "run", seed=5)),
        Probe("rf-other-lab", f, "a folder holding a run of another lab", argv=graph, status=2,
              words=("lab 'cnn'", "--overwrite"), fast=True, setup=lambda d: mk(d / "run", "cnn", {})),
        Probe("rf-damaged-config", f, "a run folder whose config.json is cut short", argv=graph, status=2,
              words=("run/config.json", "damaged", "--overwrite"), fast=True,
              setup=lambda d: mk(d / "run", "", {}, text='{"lab": "graph", "fing')),
        Probe("rf-config-not-object", f, "a run folder whose config.json is a list", argv=graph, status=2,
              words=("run/config.json", "--overwrite"), fast=True,
              setup=lambda d: mk(d / "run", "", {}, text="[1, 2]")),
        Probe("rf-older-run", f, "a run folder written before config.json held the settings", argv=graph,
              status=2, words=("older backproplab", "--overwrite"), fast=True,
              setup=lambda d: mk(d / "run", "", {}, text='{"lab": "graph", "fingerprint": "x"}')),
        Probe("rf-not-a-run", f, "a folder of the user's files", argv=graph, status=2,
              words=("holds files but no backproplab run", "--out"), fast=True,
              setup=lambda d: (d / "run").mkdir() or (d / "run" / "thesis.tex").write_text("x")),
        Probe("rf-not-a-run-overwrite", f, "the same with --overwrite (never emptied)", argv=graph + ("--overwrite",),
              status=2, words=("holds files but no backproplab run",), fast=True,
              setup=lambda d: (d / "run").mkdir() or (d / "run" / "thesis.tex").write_text("x")),
        Probe("rf-overwrite", f, "--overwrite of a run with other settings", argv=graph + ("--overwrite", "--quiet"),
              status=0, words=("graph: running into run",),
              setup=lambda d: graph_run(d / "run", seed=5)),
        Probe("rf-locked", f, "a run folder another run is writing", argv=graph, status=1,
              words=("being written by another run", "pid N since TIME", "--out"), fast=True,
              setup=_hold_lock, check=_release),
        Probe("rf-two-at-once", f, "two runs started into one folder at once",
              shell="$BPL lab activations --quick --quiet --out run >/dev/null 2>&1 & sleep 3; "
                    "$BPL lab activations --quick --quiet --out run; s=$?; wait; exit $s",
              status=1, words=("being written by another run",), timeout=120),
        Probe("rf-under-file", f, "--out under a file", argv=("lab", "graph", "--quick", "--out", "afile/run"),
              status=1, words=("afile/run", "a file is in the way", "another --out"), fast=True,
              setup=lambda d: (d / "afile").write_text("x")),
        Probe("rf-is-file", f, "--out is a file", argv=("lab", "graph", "--quick", "--out", "afile"), status=1,
              words=("afile", "another --out"), fast=True, setup=lambda d: (d / "afile").write_text("x")),
        Probe("rf-not-permitted", f, "--out where nobody may write", argv=("lab", "graph", "--quick", "--out",
              "/sys/run"), status=1, words=("/sys/run", "you can write to")),  # EPERM as root, EACCES otherwise
        Probe("rf-read-only", f, "--out on a read-only file system (a tmpfs when root, else chmod 555)",
              shell=_mounted("ro") + " && { $BPL lab graph --quick --out fs/run; s=$?; umount fs 2>/dev/null; "
                                     "exit $s; }", status=1, words=("fs/run", "you can write to")),
        Probe("rf-disk-full", f, "--out on a full file system (mounts a small tmpfs: needs root)",
              shell=_mounted("full") + " && { $BPL lab graph --quick --out fs/run; s=$?; umount fs; exit $s; }",
              status=1, words=("disk is full", "another --out")),
        Probe("rf-resume-finished", f, "a finished run started again with its settings", argv=graph, status=0,
              words=("graph: running into run",), setup=lambda d: runs.copy(GRAPH, d / "run")),
    ]


def reports(runs: files.FinishedRuns) -> list[Probe]:
    f = "backproplab report"
    mk = files.run_folder
    return [
        cli(f, "report-missing", "a folder that does not exist", "report nowhere", 1, "nowhere",
            "pass the folder a lab wrote"),
        cli(f, "report-not-run", "a folder that is not a run", "report mine", 1, "mine", "pass the folder a lab wrote",
            setup=lambda d: (d / "mine").mkdir() or (d / "mine" / "notes.txt").write_text("x")),
        cli(f, "report-damaged-config", "a run whose config.json is cut short", "report run", 1, "run/config.json",
            setup=lambda d: mk(d / "run", "", {}, text='{"lab": "gr')),
        cli(f, "report-unknown-lab", "a run of a lab this version lacks", "report run", 1, "run/config.json",
            "'nosuch'", setup=lambda d: mk(d / "run", "nosuch", {})),
        cli(f, "report-config-list", "a config.json that is a list", "report run", 1, "run/config.json",
            setup=lambda d: mk(d / "run", "", {}, text="[1, 2]")),
        cli(f, "report-no-settings", "a config.json without the settings", "report run", 1, "run/config.json",
            setup=lambda d: mk(d / "run", "", {}, text='{"lab": "graph"}')),
        cli(f, "report-bad-setting", "a config.json with a setting out of range", "report run", 1,
            "run/config.json", "--seed", setup=lambda d: graph_run(d / "run", seed=-4)),
        cli(f, "report-unfinished", "a run that has not finished", "report run", 1, "no finished run",
            "backproplab lab graph", setup=lambda d: graph_run(d / "run")),
        Probe("report-again-fa", f, "a finished run's report in Persian", argv=("report", "run", "--lang", "fa"),
              status=0, words=("wrote run/report.fa.html",), setup=lambda d: runs.copy(GRAPH, d / "run")),
    ]


def _same_result(reference: Path):
    def check(folder: Path) -> str | None:
        old = json.loads((reference / "result.json").read_text())["result"]
        new = json.loads((folder / "run" / "result.json").read_text())["result"]
        return None if old == new else "the rerun's result differs from the first run's"
    return check


def _damage_step(d: Path, runs: files.FinishedRuns, how: str) -> None:
    run = runs.copy(STEPS, d / "run")
    (run / "result.json").unlink()
    step = sorted((run / ".steps").glob("*.json"))[0]
    if how == "truncate":
        files.truncate(step)
    else:
        step.write_text(json.dumps({"fingerprint": "0" * 16, "key": "x", "result": {"nonsense": 1}}))


def caches(runs: files.FinishedRuns) -> list[Probe]:
    f = "cached steps, results and checkpoints"
    steps = ("lab", *STEPS, "--quiet", "--out", "run")
    cnn = ("lab", *CNN, "--quiet", "--out", "run")

    def ckpt(how):
        def setup(d: Path) -> None:
            run = runs.copy(CNN, d / "run")
            (run / "result.json").unlink()
            path = run / ".checkpoint.npz"
            {"truncate": files.truncate, "flip": files.flip_byte,
             "empty": lambda p: p.write_bytes(b""), "text": lambda p: p.write_text("not a zip")}[how](path)
        return setup

    def foreign_ckpt(d: Path) -> None:
        run = runs.copy(CNN, d / "run")
        (run / "result.json").unlink()
        other = runs.get(CNN[:-2] + ("--threads", "2"))  # another configuration's checkpoint
        (run / ".checkpoint.npz").write_bytes((other / ".checkpoint.npz").read_bytes())

    return [
        Probe("cache-step-truncated", f, "a cached step cut short (result.json gone)", argv=steps, status=0,
              words=("gaussian-dropout: wrote run/report.html",), setup=lambda d: _damage_step(d, runs, "truncate"),
              check=lambda d: _same_result(runs.get(STEPS))(d), timeout=120),
        Probe("cache-step-foreign", f, "a cached step of another configuration", argv=steps, status=0,
              words=("gaussian-dropout: wrote run/report.html",), setup=lambda d: _damage_step(d, runs, "foreign"),
              check=lambda d: _same_result(runs.get(STEPS))(d), timeout=120),
        Probe("cache-result-truncated", f, "result.json cut short", argv=steps, status=0,
              words=("gaussian-dropout: wrote run/report.html",),
              setup=lambda d: files.truncate(runs.copy(STEPS, d / "run") / "result.json"),
              check=lambda d: _same_result(runs.get(STEPS))(d), timeout=120),
        Probe("ckpt-truncated", f, "a training checkpoint cut short", argv=cnn, status=1,
              words=("run/.checkpoint.npz", "damaged", "delete it"), setup=ckpt("truncate"), timeout=120),
        Probe("ckpt-bit-flipped", f, "a training checkpoint with one byte flipped", argv=cnn, status=1,
              words=("run/.checkpoint.npz", "delete it"), setup=ckpt("flip"), timeout=120),
        Probe("ckpt-empty", f, "an empty training checkpoint", argv=cnn, status=1,
              words=("run/.checkpoint.npz", "delete it"), setup=ckpt("empty"), timeout=120),
        Probe("ckpt-not-zip", f, "a text file as the checkpoint", argv=cnn, status=1,
              words=("run/.checkpoint.npz", "delete it"), setup=ckpt("text"), timeout=120),
        Probe("ckpt-foreign", f, "another configuration's checkpoint in the folder", argv=cnn, status=1,
              words=("run/.checkpoint.npz", "delete"), setup=foreign_ckpt, timeout=120),
        Probe("ckpt-other-architecture", f, "the same folder rerun with other --channels",
              argv=cnn + ("--channels", "8,8"), status=2, words=("--channels", "--overwrite"),
              setup=lambda d: runs.copy(CNN, d / "run"), timeout=120),
        Probe("gradcam-cnn-run-missing", f, "gradcam --cnn-run of a folder that does not exist",
              argv=("lab", "gradcam", "--quick", "--quiet", "--out", "run", "--cnn-run", "nowhere"), status=2,
              words=("nowhere", "--cnn-run"), timeout=120),
        Probe("gradcam-cnn-run-foreign", f, "gradcam --cnn-run of another lab's run",
              argv=("lab", "gradcam", "--quick", "--quiet", "--out", "run", "--cnn-run", "g"), status=2,
              words=("g", "--cnn-run"), setup=lambda d: runs.copy(GRAPH, d / "g"), timeout=120),
    ]


def _idx_header(code: int, dims: tuple) -> bytes:
    return bytes([0, 0, code, len(dims)]) + np.asarray(dims, dtype=">u4").tobytes()


def fashion_mnist() -> list[Probe]:
    f = "Fashion-MNIST IDX files (--data-dir)"
    to_npz = "data to-npz out --data-dir fm"
    images = files._idx(np.zeros((40, 28, 28), np.uint8))

    def fm(**raw):
        return lambda d: files.fashion(d / "fm", **raw)

    def damaged(name, how):
        def setup(d: Path) -> None:
            folder = files.fashion(d / "fm")
            path = folder / files.IDX_NAMES[name]
            {"truncate": files.truncate, "empty": lambda p: p.write_bytes(b""),
             "delete": lambda p: p.unlink()}[how](path)
        return setup

    return [
        cli(f, "fm-gz-truncated", "an image file cut short", to_npz, 1, "train-images-idx3-ubyte.gz", "truncated",
            "download it again", setup=damaged("train_images", "truncate")),
        cli(f, "fm-empty", "an empty label file", to_npz, 1, "t10k-labels-idx1-ubyte.gz", "fix:",
            setup=damaged("test_labels", "empty")),
        cli(f, "fm-missing", "a missing label file", to_npz, 1, "t10k-labels-idx1-ubyte.gz", "fix:",
            setup=damaged("test_labels", "delete")),
        cli(f, "fm-bad-magic", "an image file with a wrong magic number", to_npz, 1, "train-images-idx3-ubyte.gz",
            "magic number", setup=fm(train_images=b"\x00\x01" + images[2:])),
        cli(f, "fm-images-2d", "images stored as (N, 784)", to_npz, 1, "train-images-idx3-ubyte.gz", "(N, 28, 28)",
            setup=fm(train_images=_idx_header(8, (40, 784)) + bytes(40 * 784))),
        cli(f, "fm-labels-0d", "a label file with 0 dimensions", to_npz, 1, "train-labels-idx1-ubyte.gz", "fix:",
            setup=fm(train_labels=_idx_header(8, ()) + b"\x01")),
        cli(f, "fm-float-images", "float32 images", to_npz, 1, "train-images-idx3-ubyte.gz", "uint8",
            setup=fm(train_images=_idx_header(0x0D, (40, 28, 28)) + bytes(4 * 40 * 784))),
        cli(f, "fm-count-mismatch", "40 images but 39 labels", to_npz, 1, "40 images", "fix:",
            setup=fm(train_labels=files._idx(np.arange(39) % 10))),
        cli(f, "fm-label-12", "a label 12", to_npz, 1, "train-labels-idx1-ubyte.gz", "0..9",
            setup=fm(train_labels=files._idx(np.full(40, 12)))),
        cli(f, "fm-extra-bytes", "bytes after the images", to_npz, 1, "train-images-idx3-ubyte.gz", "unexpected bytes",
            setup=fm(train_images=images + b"xx")),
        cli(f, "fm-huge-header", "a header that promises 4 billion images", to_npz, 1, "train-images-idx3-ubyte.gz",
            "truncated", setup=fm(train_images=_idx_header(8, (2**32 - 1, 28, 28)) + bytes(100))),
        cli(f, "fm-lab-damaged", "a lab reading a damaged file", "lab activations --quick --data-dir fm", 1,
            "train-images-idx3-ubyte.gz", "truncated", setup=damaged("train_images", "truncate")),
        cli(f, "fm-lab-too-few", "a quick lab on 8 images of its classes", "lab activations --quick --quiet "
            "--data-dir fm --out run", 2, "--train-size", "8", setup=fm()),
        cli(f, "fm-lab-train-size", "--train-size above the images there are", "lab logistic-vs-softmax --quick "
            "--quiet --data-dir fm --out run --train-size 100", 2, "--train-size", "8", setup=fm()),
    ]


def npz() -> list[Probe]:
    f = "the assignment's npz files (--data-dir)"
    to_npz = "data to-npz out --data-dir npz"
    n = 20

    def bad(**arrays):
        return lambda d: files.npz_set(d / "npz", n, **arrays)

    return [
        cli(f, "npz-object", "an object array (needs pickle)", to_npz, 1, "x_train.npz", "backproplab data to-npz",
            setup=bad(x_train=np.array([{"a": 1}] * n, dtype=object))),
        cli(f, "npz-truncated", "a file cut short", to_npz, 1, "y_test.npz", "fix:",
            setup=lambda d: files.truncate(files.npz_set(d / "npz") / "y_test.npz")),
        cli(f, "npz-not-zip", "a text file named .npz", to_npz, 1, "x_test.npz", "fix:",
            setup=bad(x_test=b"hello")),
        cli(f, "npz-wrong-key", "an array saved under another key", to_npz, 1, "x_train.npz", "'arr_0'",
            setup=lambda d: np.savez(files.npz_set(d / "npz") / "x_train.npz", x=np.zeros((n, 784), np.uint8))),
        cli(f, "npz-shape", "images of shape (N, 100)", to_npz, 1, "x_train.npz", "(N, 784)",
            setup=bad(x_train=np.zeros((n, 100), np.uint8))),
        cli(f, "npz-nan-pixels", "NaN pixels", to_npz, 1, "x_train.npz", "pixel values",
            setup=bad(x_train=np.full((n, 784), np.nan, np.float32))),
        cli(f, "npz-standardized", "standardized pixels (negative values)", to_npz, 1, "x_test.npz", "0..255",
            setup=bad(x_test=np.full((n, 784), -1.5, np.float32))),
        cli(f, "npz-nan-labels", "NaN labels", to_npz, 1, "y_train.npz", "label",
            setup=bad(y_train=np.full(n, np.nan))),
        cli(f, "npz-fraction-labels", "labels 0.5", to_npz, 1, "y_train.npz", "label",
            setup=bad(y_train=np.full(n, 0.5))),
        cli(f, "npz-labels-2d", "labels of shape (N, 2)", to_npz, 1, "y_test.npz", "(N,)",
            setup=bad(y_test=np.zeros((n, 2), np.int64))),
        cli(f, "npz-length-mismatch", "20 images and 19 labels", to_npz, 1, "y_train.npz", "20",
            setup=bad(y_train=np.arange(n - 1) % 2)),
        cli(f, "npz-one-class", "labels of one class only", to_npz, 1, "class", "fix:",
            setup=bad(y_train=np.zeros(n, np.int64))),
        cli(f, "npz-missing-one", "three of the four files", to_npz, 1, "npz", "x_test.npz",
            setup=lambda d: (files.npz_set(d / "npz") / "x_test.npz").unlink()),
    ]


def sst() -> list[Probe]:
    f = "SST tree files (lab rnn-sentiment --data-dir)"
    lab = "lab rnn-sentiment --quick --quiet --out run --data-dir sst"

    def bad(**texts):
        return lambda d: files.sst(d / "sst", **texts)

    deep = "(2 " * 3000 + "(2 a)" + ")" * 3000 + "\n"
    return [
        cli(f, "sst-unbalanced", "a tree missing its last ')'", lab, 1, "sst/dev.txt:2", "unclosed",
            setup=bad(dev="(2 (2 a) (2 b))\n(3 (2 a)\n"), fast=False),
        cli(f, "sst-label-7", "a label 7", lab, 1, "sst/train.txt:1", "0..4", setup=bad(train="(7 (2 a))\n"),
            fast=False),
        cli(f, "sst-text-after", "text after the tree", lab, 1, "sst/test.txt:1", "text after",
            setup=bad(test="(2 (2 a)) extra\n"), fast=False),
        cli(f, "sst-word-and-tree", "a node with a word and a sub-tree", lab, 1, "sst/train.txt:1", "both",
            setup=bad(train="(2 a (2 b))\n"), fast=False),
        cli(f, "sst-not-utf8", "a byte that is not UTF-8", lab, 1, "sst/train.txt:1", "UTF-8",
            setup=bad(train=b"(2 caf\xe9)\n"), fast=False),
        cli(f, "sst-empty", "an empty split", lab, 1, "sst/dev.txt", "no trees", setup=bad(dev=""), fast=False),
        cli(f, "sst-missing", "a folder without dev.txt", lab, 1, "sst", "dev.txt",
            setup=lambda d: (files.sst(d / "sst") / "dev.txt").unlink(), fast=False),
        cli(f, "sst-deep", "a tree nested 3000 deep (read, not refused)", lab, 0, "rnn-sentiment: wrote",
            setup=bad(train=deep), fast=False, timeout=120),
        Probe("sst-crlf", f, "Windows line ends (read, not refused)", status=0, words=("20 trees",),
              python="from backproplab.data.sst import read_trees\n"
                     "print(len(read_trees('sst/train.txt')), 'trees')",
              setup=lambda d: files.sst(d / "sst", train=("\r\n".join(files.TREES * 4) + "\r\n").encode())),
    ]


class _Evil:
    def __reduce__(self):
        import os

        return os.system, ("touch pwned",)


def cifar10() -> list[Probe]:
    f = "CIFAR-10 files"
    load = "from backproplab.data.cifar10 import load_cifar10\nds = load_cifar10('c')\nprint(ds.x_train.shape)"

    def bad(**raw):
        return lambda d: files.cifar(d / "c", **raw)

    def no_pwned(folder: Path) -> str | None:
        return "the pickle ran code" if (folder / "pwned").exists() else None

    def drop(name):
        return lambda d: (files.cifar(d / "c") / name).unlink()

    def py(id, what, status, words, setup, check=None):
        return Probe(id, f, what, python=load, status=status, words=words, setup=setup, check=check)

    return [
        py("cifar-protocol-2", "batches pickled by Python 3 with protocol 2", 0, ("(50, 3, 32, 32)",), bad()),
        py("cifar-protocol-5", "batches pickled with protocol 5", 0, ("(50, 3, 32, 32)",),
           lambda d: files.cifar(d / "c", protocol=5)),
        py("cifar-truncated", "a batch cut short", 1, ("c/cifar-10-batches-py/test_batch", "truncated", "official"),
           lambda d: files.truncate(files.cifar(d / "c") / "test_batch")),
        py("cifar-empty", "an empty batch", 1, ("data_batch_2", "truncated"), bad(data_batch_2=b"")),
        py("cifar-code", "a pickle that runs a shell command", 1, ("data_batch_1", "refusing"),
           bad(data_batch_1=pickle.dumps(_Evil(), protocol=2)), check=no_pwned),
        py("cifar-not-dict", "a batch that is a list", 1, ("test_batch", "list"), bad(test_batch=pickle.dumps([1]))),
        py("cifar-labels-100", "labels 0..99 (CIFAR-100)", 1, ("data_batch_3", "0..9"),
           bad(data_batch_3=pickle.dumps({"data": np.zeros((100, 3072), np.uint8), "labels": list(range(100))}))),
        py("cifar-shape", "data of shape (N, 1024)", 1, ("data_batch_4", "(N, 3072)"),
           bad(data_batch_4=pickle.dumps({"data": np.zeros((5, 1024), np.uint8), "labels": [0] * 5}))),
        py("cifar-missing", "a folder without data_batch_3", 1, ("data_batch_3", "official archive"),
           drop("data_batch_3")),
        py("cifar-gzip", "a batch still gzipped", 1, ("data_batch_5", "official"),
           bad(data_batch_5=gzip.compress(b"x" * 100))),
    ]


def probes(runs: files.FinishedRuns) -> list[Probe]:
    return (run_folders(runs) + reports(runs) + caches(runs) + fashion_mnist() + npz() + sst() + cifar10())
