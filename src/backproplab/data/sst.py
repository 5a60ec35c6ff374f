"""The Stanford Sentiment Treebank (SST) from its official PTB tree files, parsed by hand.

One tree per line, every node labelled with a sentiment class 0..4
(very negative, negative, neutral, positive, very positive)::

    (3 (2 It) (4 (4 (2 's) (4 (3 (2 a) (4 (3 lovely) (2 film))) ...

* SST-5: the root label of each sentence, 5 classes.
* SST-2: drop neutral (2) and merge 0,1 -> 0 (negative) and 3,4 -> 1 (positive).
* ``train_phrases=True`` adds every labelled phrase (sub-tree) of the training trees as an
  extra training example, each distinct phrase once -- the supervision the treebank exists for.

The vocabulary comes from the training split only; ``<pad>`` is id 0, ``<unk>`` id 1.

Reference: Socher et al., "Recursive Deep Models for Semantic Compositionality Over a
Sentiment Treebank", EMNLP 2013. The files are ``train.txt``, ``dev.txt``, ``test.txt`` of the
official archive ``trainDevTestTrees_PTB.zip`` (https://nlp.stanford.edu/sentiment/).
"""
from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SPLITS = ("train", "dev", "test")
CLASS_NAMES_5 = ("very negative", "negative", "neutral", "positive", "very positive")
CLASS_NAMES_2 = ("negative", "positive")
IGNORE_INDEX = -100  # target of a step without a label (PyTorch's ignore_index default)
_LABELS = {"0": 0, "1": 1, "2": 2, "3": 3, "4": 4}
_TOKEN = re.compile(r"\(|\)|[^\s()]+")


class SSTFormatError(ValueError):
    """A tree file that does not follow the PTB format; the message starts with ``file:line:``."""


class Tree:
    """A labelled binary (or n-ary) tree node: a leaf has ``word``, an inner node ``children``."""

    __slots__ = ("label", "children", "word")  # 440k nodes in train+dev+test: keep them small

    def __init__(self, label: int, children: list["Tree"] | None = None, word: str | None = None):
        self.label, self.children, self.word = label, children if children is not None else [], word

    def __repr__(self) -> str:
        return f"Tree({self.label}, word={self.word!r})" if self.word is not None else \
            f"Tree({self.label}, {len(self.children)} children)"

    def leaves(self) -> list[str]:
        return [w for _, _, _, w in self._walk()]

    def spans(self) -> list[tuple[int, int, int]]:
        """Every node as (start, end, label): tokens [start, end) of the sentence, children before parents."""
        return [(s, e, y) for s, e, y, _ in self._walk(all_nodes=True)]

    def _walk(self, all_nodes: bool = False) -> list:
        """One post-order pass: (start, end, label, word) per leaf, or per node if ``all_nodes``.

        Iterative (an explicit stack), so a tree nested thousands deep is no RecursionError.
        Leaves come in sentence order, so a node's span starts at the count of leaves seen when
        it is entered and ends at the count when it is left.
        """
        out, pos, starts = [], 0, []
        stack = [(self, False)]  # (node, its children are done)
        while stack:
            node, finished = stack.pop()
            if node.word is not None:
                out.append((pos, pos + 1, node.label, node.word))
                pos += 1
            elif not finished:
                starts.append(pos)
                stack.append((node, True))
                stack.extend((c, False) for c in reversed(node.children))  # first child on top
            else:
                start = starts.pop()
                if all_nodes:
                    out.append((start, pos, node.label, None))
        return out


def parse_tree(line: str, source: str = "<string>", lineno: int = 1) -> Tree:
    """Parse one PTB tree such as ``(3 (2 a) (4 (3 lovely) (2 film)))``.

    Raises :class:`SSTFormatError` naming ``source:lineno`` and the column on any defect:
    unbalanced brackets, a label that is not an integer in 0..4, a node with neither a
    word nor children, a node with both, or text after the tree.
    """
    tokens = _TOKEN.findall(line)

    def fail(msg, i):
        # the column is only needed for the message: find token i's position again
        starts = [m.start() for m in _TOKEN.finditer(line)]
        col = starts[i] + 1 if i < len(starts) else len(line.rstrip("\n")) + 1
        raise SSTFormatError(f"{source}:{lineno}: {msg} (column {col})")

    stack: list[Tree] = []
    root = None
    expect_label = False
    for pos, tok in enumerate(tokens):  # pos: token index, turned into a column on error
        if root is not None:
            fail(f"text after the end of the tree: {tok!r}", pos)
        if expect_label:
            if tok not in _LABELS:
                fail(f"expected a sentiment label 0..4 after '(', got {tok!r}", pos)
            stack.append(Tree(_LABELS[tok]))
            expect_label = False
        elif tok == "(":
            if stack and stack[-1].word is not None:
                fail("a node has both a word and a sub-tree", pos)
            expect_label = True
        elif tok == ")":
            if not stack:
                fail("')' without a matching '('", pos)
            node = stack.pop()
            if node.word is None and not node.children:
                fail(f"node with label {node.label} has neither a word nor children", pos)
            if stack:
                stack[-1].children.append(node)
            else:
                root = node
        else:  # a word
            if not stack:
                fail(f"word {tok!r} outside any bracket", pos)
            top = stack[-1]
            if top.children:
                fail(f"unexpected word {tok!r}: a node holds one word or sub-trees, not both", pos)
            # a leaf's word is all text up to ')': the treebank has leaves such as (2 8 1\/2)
            top.word = tok if top.word is None else f"{top.word} {tok}"
    if expect_label:
        fail("the line ends right after '('", len(tokens))
    if stack:
        fail(f"{len(stack)} unclosed '(' at the end of the line", len(tokens))
    if root is None:
        fail("no tree on this line", 0)
    return root


def read_trees(path) -> list[Tree]:
    """All trees of one file, one per non-blank line; errors name the file and line."""
    path = Path(path)
    trees = []
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise SSTFormatError(f"{path}:{lineno}: byte {raw[e.start]:#04x} at column {e.start + 1} is not "
                                     "UTF-8; fix: re-save the file as UTF-8 (the treebank's files are)") from None
            if line.strip():
                trees.append(parse_tree(line, str(path), lineno))
    if not trees:
        raise SSTFormatError(f"{path}:1: the file holds no trees")
    return trees


# -- locating the files -------------------------------------------------------------------------
def find_sst_dir(data_dir=None) -> Path:
    """The folder holding train.txt, dev.txt, test.txt.

    Tried in order: ``data_dir`` (if given, it must hold the files), the environment variable
    ``BACKPROPLAB_SST``, ``../shared/data/sst`` relative to the current folder and relative to
    the repository root of this package.
    """
    def ok(p: Path) -> bool:
        return all((p / f"{s}.txt").is_file() for s in SPLITS)

    if data_dir is not None:
        p = Path(data_dir).expanduser()
        if not ok(p):
            raise FileNotFoundError(f"--data-dir {p} does not hold {', '.join(s + '.txt' for s in SPLITS)}")
        return p
    candidates = []
    if os.environ.get("BACKPROPLAB_SST"):
        candidates.append(Path(os.environ["BACKPROPLAB_SST"]).expanduser())
    repo_root = Path(__file__).resolve().parents[3]  # src/backproplab/data/sst.py -> repo
    candidates += [Path.cwd() / "../shared/data/sst", repo_root / "../shared/data/sst"]
    for p in candidates:
        if ok(p):
            return p.resolve()
    tried = ", ".join(str(p) for p in candidates)
    # one line: the command line prints it after "error:"
    raise FileNotFoundError(
        f"SST tree files (train.txt, dev.txt, test.txt) not found in {tried}; get them with "
        "backproplab.data.sst.download_sst(FOLDER), or download trainDevTestTrees_PTB.zip from "
        "https://nlp.stanford.edu/sentiment/ and unzip it; then pass --data-dir FOLDER (or set BACKPROPLAB_SST)"
    )


# -- downloading the official archive ---------------------------------------------------------------
SST_URL = "https://nlp.stanford.edu/sentiment/trainDevTestTrees_PTB.zip"
# SHA-256 and size of that archive as pinned by other projects; not re-verified here (written offline)
SST_ZIP_SHA256 = "5c613a4f673fc74097d523a2c83f38e0cc462984d847b82c7aaf36b01cbbbfcc"
SST_ZIP_SIZE = 789539


def download_sst(dest_dir, *, url: str = SST_URL, progress=None) -> Path:
    """Download the official archive, check its SHA-256, and extract ``trees/{train,dev,test}.txt`` to ``dest_dir``.

    Resumable and atomic through :func:`backproplab.data.download.download_file`; a checksum mismatch
    deletes the archive and raises :class:`backproplab.data.download.ChecksumError`. Returns ``dest_dir``.
    """
    import hashlib
    import zipfile

    from .download import ChecksumError, download_file

    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    archive = download_file(url, dest / "trainDevTestTrees_PTB.zip", progress=progress)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    if digest != SST_ZIP_SHA256:
        archive.unlink()
        raise ChecksumError(f"{archive}: SHA-256 {digest} differs from the published {SST_ZIP_SHA256}; "
                            "deleted it (download again, or unzip a copy you trust by hand)")
    with zipfile.ZipFile(archive) as z:
        for s in SPLITS:
            (dest / f"{s}.txt").write_bytes(z.read(f"trees/{s}.txt"))  # only these members: no path tricks
    return dest


# -- labels, vocabulary, batches -------------------------------------------------------------------
def to_binary(label: int) -> int:
    """SST-2 label of an SST-5 label: 0,1 -> 0; 3,4 -> 1; neutral (2) -> IGNORE_INDEX."""
    return 0 if label < 2 else (1 if label > 2 else IGNORE_INDEX)


class Vocab:
    """Token <-> id. Id 0 is ``<pad>``, 1 is ``<unk>``; others by falling frequency, ties alphabetical."""

    PAD, UNK = "<pad>", "<unk>"

    def __init__(self, itos: list[str]):
        if itos[:2] != [self.PAD, self.UNK]:
            raise ValueError("a Vocab starts with <pad>, <unk>")
        self.itos = list(itos)
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        self.pad_idx, self.unk_idx = 0, 1

    @classmethod
    def build(cls, sentences, min_freq: int = 1) -> "Vocab":
        counts = Counter(w for s in sentences for w in s)
        words = sorted((w for w, c in counts.items() if c >= min_freq), key=lambda w: (-counts[w], w))
        return cls([cls.PAD, cls.UNK] + words)

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens) -> np.ndarray:
        return np.array([self.stoi.get(w, self.unk_idx) for w in tokens], dtype=np.int64)


def pad_batch(seqs, pad_idx: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """List of 1-D id arrays -> ids (N, T_max) padded with ``pad_idx`` at the end, lengths (N,)."""
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    x = np.full((len(seqs), int(lengths.max())), pad_idx, dtype=np.int64)
    for i, s in enumerate(seqs):
        x[i, :len(s)] = s
    return x, lengths


def bucket_batches(lengths, batch_size: int, rng: np.random.Generator | None = None) -> list[np.ndarray]:
    """Index batches of similar length (little padding), in random order when ``rng`` is given.

    Sequences are sorted by length (random order among equal lengths), cut into runs of
    ``batch_size``, and the runs are shuffled.
    """
    lengths = np.asarray(lengths)
    order = rng.permutation(len(lengths)) if rng is not None else np.arange(len(lengths))
    order = order[np.argsort(lengths[order], kind="stable")]
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def prefix_targets(tree: Tree, binary: bool = False) -> np.ndarray:
    """Many-to-many targets: step t gets the label of the phrase w_1..w_{t+1} where that prefix is
    a node of the tree (the left spine; the last step is the whole sentence); IGNORE_INDEX elsewhere."""
    n = len(tree.leaves())
    y = np.full(n, IGNORE_INDEX, dtype=np.int64)
    for start, end, label in tree.spans():
        if start == 0:
            y[end - 1] = to_binary(label) if binary else label
    return y


@dataclass
class SSTSplit:
    """One split: ``tokens`` (list of word lists), ``labels`` (N,) int64, and ``trees``."""

    tokens: list[list[str]]
    labels: np.ndarray
    trees: list[Tree]


@dataclass
class SSTData:
    """train / dev / test sentences, the phrase-augmented training set, and the vocabulary."""

    train: SSTSplit
    dev: SSTSplit
    test: SSTSplit
    phrases: SSTSplit | None  # every distinct labelled phrase of train (sentences included), or None
    vocab: Vocab
    class_names: tuple[str, ...]
    data_dir: Path


def sentence_split(trees, binary: bool = False, lowercase: bool = True) -> SSTSplit:
    """One example per tree: its words and root label (SST-2: neutral trees dropped)."""
    toks, labels, kept = [], [], []
    for t in trees:
        y = to_binary(t.label) if binary else t.label
        if y == IGNORE_INDEX:
            continue  # neutral sentence in SST-2
        words = t.leaves()
        toks.append([w.lower() for w in words] if lowercase else words)
        labels.append(y)
        kept.append(t)
    return SSTSplit(toks, np.array(labels, dtype=np.int64), kept)


def phrase_split(trees, binary: bool = False, lowercase: bool = True) -> SSTSplit:
    """One example per distinct labelled phrase (every node, sentences included); ``trees`` left empty."""
    seen: dict[tuple[str, ...], int] = {}
    for t in trees:
        words = [w.lower() for w in t.leaves()] if lowercase else t.leaves()
        for start, end, label in t.spans():
            y = to_binary(label) if binary else label
            key = tuple(words[start:end])
            if y != IGNORE_INDEX and key not in seen:
                seen[key] = y  # a phrase has one label in the treebank's dictionary; keep the first
    return SSTSplit([list(k) for k in seen], np.array(list(seen.values()), dtype=np.int64), [])


def load_sst(data_dir=None, *, binary: bool = False, train_phrases: bool = False, lowercase: bool = True,
             min_freq: int = 1) -> SSTData:
    """Read and label the three splits; build the vocabulary from the training trees only.

    Args:
        data_dir: folder of train/dev/test.txt (see :func:`find_sst_dir` for the fallbacks).
        binary: SST-2 (neutral dropped) instead of SST-5.
        train_phrases: also return every distinct labelled phrase of the training trees.
        lowercase: fold case (smaller vocabulary; sentiment does not depend on case).
        min_freq: training words seen fewer times map to ``<unk>``.
    """
    root = find_sst_dir(data_dir)
    trees = {s: read_trees(root / f"{s}.txt") for s in SPLITS}
    splits = {s: sentence_split(trees[s], binary, lowercase) for s in SPLITS}
    # every training tree's words (SST-2 drops neutral sentences, not their words)
    vocab = Vocab.build(([w.lower() for w in t.leaves()] if lowercase else t.leaves() for t in trees["train"]),
                        min_freq)
    phrases = phrase_split(trees["train"], binary, lowercase) if train_phrases else None
    return SSTData(splits["train"], splits["dev"], splits["test"], phrases, vocab,
                   CLASS_NAMES_2 if binary else CLASS_NAMES_5, root)
