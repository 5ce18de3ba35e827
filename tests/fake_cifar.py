"""A tiny CIFAR-10 in the official python format, for tests that must not need the real archive."""

import pickle
from pathlib import Path

import numpy as np


def write_fake_cifar(folder, per_batch=100, seed=0):
    """Write ``folder/cifar-10-batches-py/`` with 6 pickled batches of random images; return ``folder``."""
    batches = Path(folder) / "cifar-10-batches-py"
    batches.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                 b"labels": [int(v) for v in rng.integers(0, 10, per_batch)]}
        with open(batches / name, "wb") as f:
            pickle.dump(batch, f)
    return Path(folder)
