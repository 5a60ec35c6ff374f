"""Probes of the command line itself: unknown names, --lang, --cluster, and the calc, course,
check and data commands' bad inputs."""
from __future__ import annotations

import shlex
import shutil
from pathlib import Path

from .harness import Probe

SUBMISSIONS = Path(__file__).resolve().parents[2] / "tests" / "check" / "submissions"


def cli(family: str, id: str, what: str, args: str, status: int, *words: str, fast: bool = True, **kw) -> Probe:
    """A probe of ``backproplab ARGS`` (split as a shell would)."""
    return Probe(id, family, what, argv=tuple(shlex.split(args)), status=status, words=words, fast=fast, **kw)


def names() -> list[Probe]:
    f = "unknown commands, labs and options"
    return [
        cli(f, "cmd-typo", "a misspelled command", "lba", 2, "'lba'", "did you mean 'lab'"),
        cli(f, "cmd-unknown", "an unknown command", "train", 2, "'train'", "commands:"),
        cli(f, "lab-typo", "a misspelled lab", "lab activatoins", 2, "'activatoins'", "did you mean 'activations'"),
        cli(f, "lab-unknown", "an unknown lab", "lab resnet", 2, "'resnet'", "backproplab lab --help"),
        cli(f, "lab-group-typo", "a misspelled group", "lab al", 2, "'al'", "did you mean"),
        cli(f, "lab-option-typo", "a misspelled option", "lab cnn --num-epoch 2", 2, "--num-epoch",
            "did you mean --num-epochs"),
        cli(f, "lab-option-old-name", "the old name of an option", "lab cnn --epochs 2", 2, "--epochs",
            "did you mean --num-epochs"),
        cli(f, "lab-option-unknown", "an option no lab has", "lab graph --zzz 1", 2, "--zzz",
            "backproplab lab graph --help"),
        cli(f, "lab-option-no-value", "an option without its value", "lab cnn --lr", 2, "--lr",
            "expected one argument"),
        cli(f, "lab-bool-value", "a value given to an on/off option", "lab cnn --batchnorm=3", 2, "--batchnorm"),
        cli(f, "lab-positional", "a stray word after the lab", "lab graph quick", 2, "quick",
            "backproplab lab graph --help"),
        cli(f, "group-option-typo", "a misspelled option of a group", "lab all --quik", 2, "--quik",
            "did you mean --quick"),
        cli(f, "report-no-folder", "report without a folder", "report", 2, "run_dir"),
        cli(f, "calc-unknown", "an unknown calculator", "calc conv-output", 2, "'conv-output'",
            "did you mean 'conv-out'"),
        cli(f, "course-unknown", "an unknown course command", "course shwo", 2, "'shwo'", "did you mean 'show'"),
        cli(f, "data-unknown", "an unknown data command", "data locat", 2, "'locat'", "did you mean 'locate'"),
        cli(f, "data-option-typo", "a misspelled data option", "data locate --verfy", 2, "--verfy",
            "did you mean --verify"),
    ]


def issue_examples() -> list[Probe]:
    """The inputs the reliability issue names, exactly as it names them."""
    f = "the issue's examples of nonsense values"
    return [
        cli(f, "issue-lr-decay", "a negative learning-rate decay", "lab cnn --lr-decay -3", 2, "--lr-decay",
            "(0, 1]"),
        cli(f, "issue-quick-train-size", "a negative --train-size with --quick", "lab cnn --quick --train-size=-5", 2,
            "--train-size", ">= 1"),
        cli(f, "issue-train-size-zero", "--train-size 0", "lab cnn --train-size 0", 2, "--train-size", ">= 1"),
        cli(f, "issue-hidden-empty", "no hidden layers for l2", "lab l2 --hidden ''", 2, "--hidden", "at least 1"),
        cli(f, "issue-num-epochs-zero", "no epochs", "lab cnn --num-epochs 0", 2, "--num-epochs", "[1, 1000]"),
        cli(f, "list-empty-entry", "a comma list with an empty entry", "lab activations --depths=1,,2", 2,
            "--depths", "empty entry"),
        cli(f, "list-trailing-comma", "a comma list ending in a comma", "lab cnn --channels=32,64,", 2,
            "--channels", "empty entry"),
        cli(f, "list-spaces", "a comma list with spaces and a word", "lab activations --depths '1, two'", 2,
            "--depths", "'two'"),
    ]


def languages() -> list[Probe]:
    f = "--lang"
    return [
        cli(f, "lang-unknown", "a language without a catalogue", "lab graph --lang de", 2, "--lang", "en, fa"),
        cli(f, "lang-empty", "an empty list", "lab graph --lang ''", 2, "--lang", "en, fa"),
        cli(f, "lang-comma", "a lone comma", "lab graph --lang ,", 2, "--lang", "en, fa"),
        cli(f, "lang-case", "upper case", "lab graph --lang EN", 2, "--lang", "en, fa"),
        cli(f, "lang-repeat", "a language twice", "lab graph --lang en,en", 2, "--lang", "twice"),
        cli(f, "lang-report", "report --lang unknown", "report run --lang xx", 2, "--lang", "en, fa"),
        cli(f, "lang-course", "course --lang unknown", "course list --lang de", 2, "--lang", "'fa', 'en'"),
    ]


def clusters() -> list[Probe]:
    f = "--cluster addresses"
    return [
        cli(f, "cluster-word", "not an address", "lab graph --quick --cluster here", 2, "--cluster", "local:N"),
        cli(f, "cluster-zero", "no workers", "lab graph --quick --cluster local:0", 2, "--cluster", "1 <= N"),
        cli(f, "cluster-many", "more workers than allowed", "lab graph --quick --cluster local:999", 2, "--cluster",
            "1 <= N"),
        cli(f, "cluster-negative", "a negative count", "lab graph --quick --cluster local:-1", 2, "--cluster",
            "local:N"),
        cli(f, "cluster-no-port", "a scheduler without its port", "lab graph --quick --cluster tcp://host", 2,
            "--cluster", "tcp://HOST:PORT"),
        cli(f, "cluster-http", "a web address", "lab graph --quick --cluster http://host:8786", 2, "--cluster",
            "tcp://HOST:PORT"),
        cli(f, "cluster-nobody", "a scheduler that does not answer", "lab activations --quick --cluster "
            "tcp://127.0.0.1:9", 1, "127.0.0.1:9", "dask scheduler", fast=False, timeout=90),
    ]


def calc() -> list[Probe]:
    f = "backproplab calc"
    return [
        cli(f, "calc-none", "no calculator", "calc", 2, "NAME"),
        cli(f, "calc-negative-size", "a negative input size", "calc conv-out --input-size -3 --kernel-size 3", 2,
            "input_size", ">= 1"),
        cli(f, "calc-zero-stride", "stride 0", "calc conv-out --input-size 5 --kernel-size 3 --stride 0", 2, "stride",
            ">= 1"),
        cli(f, "calc-kernel-too-big", "a kernel larger than the input", "calc conv-out --input-size 3 --kernel-size 5",
            2, "kernel_size", "more padding"),
        cli(f, "calc-three-sizes", "three sizes for a 2-D input", "calc conv-out --input-size 5,5,5 --kernel-size 3",
            2, "--input-size", "h,w"),
        cli(f, "calc-not-number", "a word for a size", "calc conv-out --input-size x --kernel-size 3", 2,
            "--input-size", "'x'"),
        cli(f, "calc-missing", "a required option left out", "calc conv-out --input-size 5", 2, "--kernel-size"),
        cli(f, "calc-empty-list", "an empty kernel list", "calc receptive-field --kernel-sizes ''", 2, "kernel_sizes",
            "at least one"),
        cli(f, "calc-list-lengths", "lists of different lengths", "calc receptive-field --kernel-sizes 3,3 "
            "--strides 1,1,1", 2, "strides", "one per layer"),
        cli(f, "calc-groups", "groups that do not divide", "calc params conv --in-channels 3 --out-channels 4 "
            "--kernel-size 3 --groups 2", 2, "groups=2", "divide"),
        cli(f, "calc-mlp-one-size", "an MLP of one size", "calc params mlp --layer-sizes 5", 2, "layer_sizes",
            "input and an output"),
        cli(f, "calc-inception-widths", "2 Inception widths of 6", "calc macs inception --input-size 28 "
            "--in-channels 192 --widths 1,2", 2, "--widths", "6 numbers"),
        cli(f, "calc-compression", "compression above 1", "calc densenet --in-channels 3 --growth-rate 12 "
            "--num-layers 4 --compression 1.5", 2, "compression", "(0, 1]"),
        cli(f, "calc-init-name", "an unknown initializer", "calc init foo --in-channels 3 --out-channels 3", 2,
            "'foo'", "choose one of"),
        cli(f, "calc-layer-beyond", "a layer beyond the depth", "calc vanishing-bound --sigma 0.5 --num-layers 3 "
            "--layer 7", 2, "layer", "num_layers=3"),
        cli(f, "calc-sigma-nan", "σ not a number", "calc vanishing-bound --sigma nan --num-layers 3 --layer 1", 2,
            "sigma", "finite"),
        cli(f, "calc-overflow", "σ so large the bound overflows", "calc vanishing-bound --sigma 1e308 "
            "--num-layers 300 --layer 1", 2, "sigma", "overflow"),
        cli(f, "calc-huge-size", "a size of 10^30", "calc conv-out --input-size 1000000000000000000000000000000 "
            "--kernel-size 3", 0, "1000000000000000000000000000000"),
    ]


def course() -> list[Probe]:
    f = "backproplab course"
    return [
        cli(f, "course-list-set", "an unknown set", "course list 009", 2, "'009'", "000, 001, 002, 003, 004"),
        cli(f, "course-list-number", "a set without its zeros", "course list 9", 2, "'9'", "000, 001"),
        cli(f, "course-show-unknown", "an unknown question", "course show 999/Q1 --no-run", 2, "'999/Q1'",
            "backproplab course list"),
        cli(f, "course-show-close", "a question with a near name", "course show 001/Q99 --no-run", 2, "'001/Q99'",
            "did you mean"),
        cli(f, "course-show-empty", "an empty id", "course show '' --no-run", 2, "''", "backproplab course list"),
        cli(f, "course-check-set", "check of an unknown set", "course check 009", 2, "'009'", "000, 001"),
        cli(f, "course-show-missing", "show without an id", "course show", 2, "id"),
    ]


def _submission(*names: str):
    """A setup that copies the test suite's submissions ``names`` into the probe's folder."""
    def setup(folder: Path) -> None:
        for name in names:
            shutil.copy(SUBMISSIONS / name, folder / name)
    return setup


def check() -> list[Probe]:
    f = "backproplab check"
    good = "correct_functions.py"
    has_good = _submission(good)
    return [
        cli(f, "check-missing-file", "a file that does not exist", "check nosuch.py", 2, "nosuch.py"),
        cli(f, "check-no-files", "no file", "check", 2, "FILE"),
        cli(f, "check-empty-folder", "a folder without .py files", "check empty", 2, "no .py files",
            setup=lambda d: (d / "empty").mkdir()),
        cli(f, "check-unknown-task", "an unknown task", f"check {good} --task nosuch", 2, "'nosuch'", "choose from",
            setup=has_good),
        cli(f, "check-syntax-error", "a submission with a syntax error", "check syntax_error.py", 1, "SyntaxError",
            "line 5", fast=False, setup=_submission("syntax_error.py")),
        cli(f, "check-import-error", "a submission whose import fails", "check import_error.py", 1,
            "cannot check this file", fast=False, setup=_submission("import_error.py")),
        Probe("check-not-utf8", f, "a submission with a byte that is not UTF-8",
              argv=("check", "bad.py"), status=1, words=("SyntaxError", "utf-8"),
              setup=lambda d: (d / "bad.py").write_bytes(b"def dense_forward(x, W, b):\n    return x\n\xff\n")),
        Probe("check-empty-file", f, "an empty submission", argv=("check", "empty.py"), status=1,
              words=("no entry point", "docs/check.md"), setup=lambda d: (d / "empty.py").write_text("")),
        cli(f, "check-jobs-zero", "--jobs 0", f"check {good} --jobs 0", 2, "--jobs", ">= 1", setup=has_good),
        cli(f, "check-timeout-negative", "a negative timeout", f"check {good} --timeout -1", 2, "--timeout", "> 0",
            setup=has_good),
        cli(f, "check-timeout-inf", "an infinite timeout", f"check {good} --timeout inf --task dense", 2,
            "--timeout", "finite", setup=has_good),
        cli(f, "check-timeout-nan", "a timeout that is not a number", f"check {good} --timeout nan", 2, "--timeout",
            setup=has_good),
        cli(f, "check-memory-zero", "no memory", f"check {good} --memory-mb 0", 2, "--memory-mb", ">= 64",
            setup=has_good),
        cli(f, "check-points-bad", "a weight that is not a number", f"check {good} --points dense=x", 2, "--points",
            "'x'", setup=has_good),
        cli(f, "check-points-missing", "a weights file that does not exist", f"check {good} --points missing.toml",
            2, "--points", "missing.toml", setup=has_good),
        cli(f, "check-junit-under-file", "--junit under a file", f"check {good} --task dense --junit afile/out.xml",
            1, "afile", "another --junit", setup=_junit_setup, fast=False),
        cli(f, "check-hang", "a submission that never returns", "check hung.py --timeout 2", 1, "FAIL", fast=False,
            timeout=60, setup=_submission("hung.py")),
    ]


def data() -> list[Probe]:
    f = "backproplab data"
    return [
        cli(f, "data-none", "no data command", "data", 2, "COMMAND"),
        cli(f, "data-locate-missing", "a data folder that does not exist", "data locate --data-dir nowhere", 1,
            "nowhere", "fix:"),
        cli(f, "data-locate-empty", "an empty data folder", "data locate --data-dir empty", 1, "empty", "fix:",
            setup=lambda d: (d / "empty").mkdir()),
        cli(f, "data-classes-one", "one class", "data to-npz out --classes 0", 2, "--classes", "two"),
        cli(f, "data-classes-range", "a class id beyond 9", "data to-npz out --classes 12,3", 2, "--classes", "12"),
        cli(f, "data-classes-word", "an unknown class name", "data to-npz out --classes foo,3", 2, "--classes", "foo"),
        cli(f, "data-classes-empty", "no classes", "data to-npz out --classes ''", 2, "--classes"),
        cli(f, "data-out-under-file", "an output folder under a file", "data to-npz afile/x --data-dir fm", 1,
            "afile", "another", setup=_file_and_fm),
        cli(f, "data-out-not-writable", "an output folder that cannot be made", "data to-npz /sys/x --data-dir fm",
            1, "/sys/x", "you can write to", setup=_fm, fast=False),  # EPERM as root, EACCES otherwise
        cli(f, "data-download-under-file", "a download folder under a file", "data download afile/dl --quiet", 1,
            "afile", "another", setup=lambda d: (d / "afile").write_text("x")),
        cli(f, "data-download-refused", "a server that refuses", "data download dl --quiet --base-url "
            "http://127.0.0.1:9/", 1, "127.0.0.1:9", "run the same command again", fast=False),
    ]


def _junit_setup(folder: Path) -> None:
    _submission("correct_functions.py")(folder)
    (folder / "afile").write_text("x")


def _fm(folder: Path) -> None:
    from .files import fashion

    fashion(folder / "fm")


def _file_and_fm(folder: Path) -> None:
    (folder / "afile").write_text("x")
    _fm(folder)


def probes() -> list[Probe]:
    return names() + languages() + clusters() + calc() + course() + check() + data()
