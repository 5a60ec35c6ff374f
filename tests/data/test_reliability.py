"""Damaged inputs get one clear error naming the file: an IDX label file with 0 dimensions, an SST
tree nested thousands deep (no RecursionError), an SST file with a byte that is not UTF-8."""
import shutil

import numpy as np
import pytest

from backproplab.data import DataFormatError, load_fashion_mnist, write_idx
from backproplab.data.sst import SSTFormatError, parse_tree, prefix_targets, read_trees


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


def test_idx_label_file_with_zero_dimensions(tmp_path):
    src = "/usr/share/datasets/fashion-mnist"
    folder = tmp_path / "fm"
    folder.mkdir()
    try:
        for name in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
            shutil.copy(f"{src}/{name}", folder / name)
    except FileNotFoundError:
        pytest.skip("the Fashion-MNIST package is not installed")
    write_idx(folder / "train-labels-idx1-ubyte", np.array(7, dtype=np.uint8))  # 0 dimensions
    with pytest.raises(DataFormatError, match=r"train-labels-idx1-ubyte: holds uint8 of shape \(\), expected uint8 \(N,\)"):
        load_fashion_mnist(data_dir=folder)
