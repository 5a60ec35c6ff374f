"""``backproplab data locate|to-npz|download``: find, convert and fetch Fashion-MNIST.

Examples::

    backproplab data locate --verify                 # where is it, are the files the official ones?
    backproplab data to-npz assignment/              # x_train.npz ... y_test.npz for T-shirt/top vs Trouser
    backproplab data to-npz out/ --classes all --float32 --images square
    backproplab data download ~/fashion-mnist        # then: export BACKPROPLAB_FASHION_MNIST=~/fashion-mnist
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ..errors import run_command
from ..labs.cli import Parser
from .fashion_mnist import (BASE_URLS, CLASS_NAMES, ENV_VAR, class_ids, download_fashion_mnist, load_fashion_mnist,
                            locate_fashion_mnist, verify_fashion_mnist)
from .npz_format import read_npz_split, write_assignment_npz


def _parse_classes(text: str):
    """"0,1" -> (0, 1); "all" -> None; names work too ("Trouser,Bag"). At least two distinct classes."""
    if text.strip().lower() == "all":
        return None
    parts = [p.strip() for p in text.split(",") if p.strip()]
    classes = tuple(int(p) if p.lstrip("-").isdigit() else p for p in parts)
    try:
        ids = class_ids(classes)
    except (TypeError, ValueError) as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if len(ids) < 2:
        raise argparse.ArgumentTypeError(f"a classifier needs at least two classes (ids or names), got {text!r}")
    return classes


def _label_counts(y: np.ndarray) -> str:
    values, counts = np.unique(y, return_counts=True)
    return ", ".join(f"{CLASS_NAMES[v]}: {c}" for v, c in zip(values.tolist(), counts.tolist()))


def _locate(args) -> int:
    loc = locate_fashion_mnist(args.data_dir)
    print(f"Fashion-MNIST: {loc.format} files in {loc.folder} (chosen by the {loc.how})")
    for name, path in loc.files.items():
        print(f"  {name:26s} {path}  ({path.stat().st_size} bytes)")
    if args.verify:
        if loc.format == "idx":
            for name, md5 in verify_fashion_mnist(loc.folder).items():
                print(f"  ok  {name}: content MD5 {md5} = official")
            ds = load_fashion_mnist(classes=None, data_dir=loc.folder, normalize=False, dtype=np.uint8)
            labels = {"train": ds.y_train, "test": ds.y_test}  # classes=None: label j is class j
        else:
            print("  (npz files have no published checksum; checking that they load)")
            labels = {s: read_npz_split(loc.files[f"x_{s}.npz"], loc.files[f"y_{s}.npz"])[1] for s in ("train", "test")}
        for split, y in labels.items():
            print(f"  {split}: {len(y)} samples ({_label_counts(y)})")
    return 0


def _to_npz(args) -> int:
    classes = args.classes
    ds = load_fashion_mnist(classes=classes, data_dir=args.data_dir, flatten=args.images == "flat",
                            normalize=args.float32, dtype=np.float32 if args.float32 else np.uint8)
    paths = write_assignment_npz(args.out_dir, ds.x_train, ds.y_train, ds.x_test, ds.y_test, classes=ds.classes)
    print(f"read {ds.source}; classes {', '.join(f'{j}={n}' for j, n in enumerate(ds.class_names))}")
    for path, arr in zip(paths, (ds.x_train, ds.y_train, ds.x_test, ds.y_test)):
        print(f"  wrote {path}  arr_0 {arr.dtype} {arr.shape}")
    return 0


def _download(args) -> int:
    def progress(fname):
        if args.quiet:
            return None
        from tqdm import tqdm
        bar = tqdm(desc=fname, unit="B", unit_scale=True, file=sys.stderr, leave=False)

        def update(done, total):
            if total is not None and bar.total != total:
                bar.total = total
            bar.update(done - bar.n)
        return update

    paths = download_fashion_mnist(args.dir, base_urls=args.base_url or BASE_URLS, progress=progress)
    for p in paths:
        print(f"  {p}")
    print(f"done; use it with: export {ENV_VAR}={Path(args.dir).resolve()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    # Parser: an error is one line (no usage block), with "did you mean" for a misspelled name
    parser = Parser(prog="backproplab data", description="Fashion-MNIST dataset tools.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    data_dir_help = f"folder with the files (default: ${ENV_VAR}, else /usr/share/datasets/fashion-mnist)"

    p = sub.add_parser("locate", help="show where the dataset is found and in which format")
    p.add_argument("--data-dir", type=Path, default=None, help=data_dir_help)
    p.add_argument("--verify", action="store_true", help="check official checksums (IDX) and count samples per class")
    p.set_defaults(func=_locate)

    p = sub.add_parser("to-npz", help="write the assignment's x_train.npz, y_train.npz, x_test.npz, y_test.npz")
    p.add_argument("out_dir", type=Path, help="folder to write the four files into")
    p.add_argument("--data-dir", type=Path, default=None, help=data_dir_help)
    p.add_argument("--classes", default=(0, 1), type=_parse_classes, help='comma-separated ids or names, or "all" (default: 0,1 = '
                                                    'T-shirt/top vs Trouser); labels become 0..k-1 in this order')
    p.add_argument("--float32", action="store_true", help="store images as float32 in [0, 1] (default: uint8 0..255)")
    p.add_argument("--images", choices=("flat", "square"), default="flat",
                   help="image layout: flat (N, 784) (default) or square (N, 28, 28)")
    p.set_defaults(func=_to_npz)

    p = sub.add_parser("download", help="download the official .gz files (MD5-checked, resumable)")
    p.add_argument("dir", type=Path, help="folder to download into (created)")
    p.add_argument("--base-url", action="append", default=None,
                   help=f"address to fetch from (repeatable; default: {', '.join(BASE_URLS)})")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_download)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    # a missing or damaged data file (DataFormatError, ChecksumError: ValueErrors; DatasetNotFoundError,
    # DownloadError: OSErrors) and a folder that cannot be written are one line and exit status 1
    out = {"to-npz": "OUT_DIR", "download": "DIR"}.get(args.command, "--data-dir")
    return run_command(f"backproplab data {args.command}", lambda: args.func(args), out=out)
