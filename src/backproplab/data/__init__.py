"""backproplab.data: Fashion-MNIST (official IDX files or the assignment's npz files), splits, downloads.

    from backproplab.data import load_fashion_mnist, train_val_split
    ds = load_fashion_mnist()                      # T-shirt/top (0) vs Trouser (1), x (N, 784) in [0, 1]
    x_tr, y_tr, x_val, y_val = train_val_split(ds.x_train, ds.y_train, 0.1, np.random.default_rng(0))
"""
from .download import ChecksumError, DownloadError, download_file, md5_file
from .fashion_mnist import (CLASS_NAMES, CONTENT_MD5, DEFAULT_DIR, ENV_VAR, GZ_MD5, Dataset, DatasetNotFoundError,
                            Location, download_fashion_mnist, load_fashion_mnist, locate_fashion_mnist, parse_classes,
                            resolve_data_dir, verify_fashion_mnist)
from .idx import DataFormatError, parse_idx, read_idx, write_idx
from .npz_format import NPZ_FILES, read_npz_split, write_assignment_npz
from .split import train_val_split

__all__ = [
    "CLASS_NAMES", "CONTENT_MD5", "DEFAULT_DIR", "ENV_VAR", "GZ_MD5", "NPZ_FILES",
    "ChecksumError", "DataFormatError", "Dataset", "DatasetNotFoundError", "DownloadError", "Location",
    "download_fashion_mnist", "download_file", "load_fashion_mnist", "locate_fashion_mnist", "md5_file",
    "parse_classes",
    "parse_idx", "read_idx", "read_npz_split", "resolve_data_dir", "train_val_split", "verify_fashion_mnist",
    "write_assignment_npz", "write_idx",
]
from .loader import ArrayDataset, BucketBatchSampler, DataLoader, default_collate, pad_collate

__all__ += ["ArrayDataset", "BucketBatchSampler", "DataLoader", "default_collate", "pad_collate"]
