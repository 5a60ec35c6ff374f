"""SST tree parser (hand-written trees, malformed files, a tree nested thousands deep, a byte that is not
UTF-8, the real files), vocabulary, batching, and the checked download."""
import numpy as np
import pytest

from backproplab.data.sst import (IGNORE_INDEX, SSTFormatError, Vocab, bucket_batches, find_sst_dir, load_sst,
                                  pad_batch, parse_tree, prefix_targets, read_trees, sentence_split, to_binary)

TREE = "(3 (2 (2 The) (2 film)) (4 (3 (2 is) (4 lovely)) (2 .)))"


def test_parse_small_tree():
    t = parse_tree(TREE)
    assert t.label == 3 and len(t.children) == 2
    assert t.leaves() == ["The", "film", "is", "lovely", "."]
    spans = t.spans()
    assert spans[-1] == (0, 5, 3)  # the root: the whole sentence
    assert sorted(spans) == sorted([(0, 1, 2), (1, 2, 2), (0, 2, 2), (2, 3, 2), (3, 4, 4), (2, 4, 3), (4, 5, 2),
                                    (2, 5, 4), (0, 5, 3)])
    # prefix constituents: "The" (2), "The film" (2), whole sentence (3)
    assert prefix_targets(t).tolist() == [2, 2, IGNORE_INDEX, IGNORE_INDEX, 3]
    assert prefix_targets(t, binary=True).tolist() == [IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX, 1]


def test_leaf_with_space_and_labels():
    t = parse_tree(r"(1 (2 8 1\/2) (0 awful))")
    assert t.leaves() == [r"8 1\/2", "awful"]
    assert [to_binary(y) for y in range(5)] == [0, 0, IGNORE_INDEX, 1, 1]


@pytest.mark.parametrize("line, message", [
    ("(3 (2 a) (4 b)", "unclosed"),
    ("(3 (2 a) (4 b)))", "after the end"),
    ("(7 (2 a) (4 b))", "label 0..4"),
    ("(12 (2 a))", "label 0..4"),
    ("(3 (2 a) x)", "not both"),
    ("(3 (2 a (2 b)))", "both a word and a sub-tree"),
    ("(3 )", "neither a word nor children"),
    ("word (2 a)", "outside any bracket"),
    (") (2 a)", "without a matching"),
    ("(", "ends right after"),
])
def test_malformed_file_names_file_and_line(tmp_path, line, message):
    path = tmp_path / "bad.txt"
    path.write_text(TREE + "\n\n" + TREE + "\n" + line + "\n")
    with pytest.raises(SSTFormatError) as e:
        read_trees(path)
    text = str(e.value)
    assert text.startswith(f"{path}:4: ") and message in text and "column" in text


def test_vocab_and_batching():
    v = Vocab.build([["a", "b", "a"], ["c", "a", "b"]], min_freq=2)
    assert v.itos == ["<pad>", "<unk>", "a", "b"]
    assert v.encode(["b", "c", "zzz"]).tolist() == [3, 1, 1]
    x, lengths = pad_batch([np.array([5, 6, 7]), np.array([8])])
    assert x.tolist() == [[5, 6, 7], [8, 0, 0]] and lengths.tolist() == [3, 1]
    lens = np.random.default_rng(0).integers(1, 30, 101)
    batches = bucket_batches(lens, 8, np.random.default_rng(1))
    assert sorted(np.concatenate(batches).tolist()) == list(range(101))
    spread = [np.ptp(lens[b]) for b in batches]
    assert max(spread) <= 3  # similar lengths share a batch (101 lengths in 1..29, 8 per batch)


def test_find_sst_dir(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="does not hold"):
        find_sst_dir(tmp_path)
    for s in ("train", "dev", "test"):
        (tmp_path / f"{s}.txt").write_text(TREE + "\n")
    monkeypatch.setenv("BACKPROPLAB_SST", str(tmp_path))
    assert find_sst_dir() == tmp_path.resolve()
    d = load_sst(train_phrases=True)
    assert len(d.train.labels) == 1 and len(d.phrases.labels) == 9  # 9 distinct phrases in TREE


def test_deep_sst_tree_is_read_and_walked_without_recursion():
    depth = 3000
    tree = parse_tree("(3 " * depth + "(2 word)" + ")" * depth)
    assert tree.leaves() == ["word"]
    spans = tree.spans()
    assert len(spans) == depth + 1 and spans[0] == (0, 1, 2) and spans[-1] == (0, 1, 3)
    assert prefix_targets(tree).tolist() == [3]


def test_spans_are_post_order_with_sentence_positions():
    tree = parse_tree("(3 (2 a) (4 (3 lovely) (2 film)))")
    assert tree.spans() == [(0, 1, 2), (1, 2, 3), (2, 3, 2), (1, 3, 4), (0, 3, 3)]
    assert tree.leaves() == ["a", "lovely", "film"]


def test_sst_file_with_a_non_utf8_byte_names_file_line_and_column(tmp_path):
    path = tmp_path / "train.txt"
    path.write_bytes(b"(2 fine)\n(3 caf\xe9)\n")
    with pytest.raises(SSTFormatError, match=r"train\.txt:2: byte 0xe9 at column 7 is not UTF-8"):
        read_trees(path)


@pytest.fixture(scope="module")
def sst():
    try:
        find_sst_dir()
    except FileNotFoundError as e:
        pytest.skip(str(e))
    return load_sst(train_phrases=True)


def test_real_files(sst):
    assert [len(s.labels) for s in (sst.train, sst.dev, sst.test)] == [8544, 1101, 2210]
    for s in (sst.train, sst.dev, sst.test):
        assert set(np.unique(s.labels)) == {0, 1, 2, 3, 4}
        assert all(len(toks) > 0 for toks in s.tokens)
    assert np.bincount(sst.train.labels).tolist() == [1092, 2218, 1624, 2322, 1288]
    assert len(sst.phrases.labels) > 100_000 and set(np.unique(sst.phrases.labels)) == {0, 1, 2, 3, 4}
    # vocabulary from train only: some test words are unknown
    test_ids = np.concatenate([sst.vocab.encode(t) for t in sst.test.tokens])
    assert 0 < np.mean(test_ids == sst.vocab.unk_idx) < 0.1


def test_real_files_binary(sst):
    splits = [sentence_split(s.trees, binary=True) for s in (sst.train, sst.dev, sst.test)]
    assert [len(s.labels) for s in splits] == [6920, 872, 1821]  # the usual SST-2 sizes
    assert set(np.unique(splits[0].labels)) == {0, 1}
    five = sst.train.labels[sst.train.labels != 2]
    assert np.array_equal(splits[0].labels, (five > 2).astype(np.int64))


def test_download_sst_checks_sha256_and_extracts(tmp_path, monkeypatch):
    """Served from a local HTTP server: a wrong checksum deletes the archive; a right one extracts the trees."""
    import functools
    import hashlib
    import http.server
    import threading
    import zipfile

    from backproplab.data import sst as sst_module
    from backproplab.data.download import ChecksumError

    served = tmp_path / "served"
    served.mkdir()
    with zipfile.ZipFile(served / "trainDevTestTrees_PTB.zip", "w") as z:
        for s in ("train", "dev", "test"):
            z.writestr(f"trees/{s}.txt", TREE + "\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/trainDevTestTrees_PTB.zip"
    try:
        with pytest.raises(ChecksumError):
            sst_module.download_sst(tmp_path / "bad", url=url)
        assert not (tmp_path / "bad" / "trainDevTestTrees_PTB.zip").exists()
        digest = hashlib.sha256((served / "trainDevTestTrees_PTB.zip").read_bytes()).hexdigest()
        monkeypatch.setattr(sst_module, "SST_ZIP_SHA256", digest)
        out = sst_module.download_sst(tmp_path / "good", url=url)
        assert len(read_trees(out / "dev.txt")) == 1 and find_sst_dir(out) == out
    finally:
        server.shutdown()


def test_sst_not_found_is_one_line_naming_the_places_and_the_fix(tmp_path, monkeypatch):
    import backproplab.data.sst as sst_module

    monkeypatch.setenv("BACKPROPLAB_SST", str(tmp_path / "none"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sst_module, "__file__", str(tmp_path / "a" / "b" / "c" / "sst.py"))  # no repo default
    with pytest.raises(FileNotFoundError) as info:
        find_sst_dir()
    message = str(info.value)
    assert "\n" not in message and str(tmp_path / "none") in message and "--data-dir FOLDER" in message
