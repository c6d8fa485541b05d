"""MNIST's idx files (the raw files `make data` puts into build/data/mnist) as numpy arrays."""
import struct

import numpy as np


def read_idx(path, count=None):
    """The idx file at `path` as a uint8 array of its shape (images N x 28 x 28, labels N), its
    first `count` entries only when given. The format: a big-endian int32 magic 0x0000_08_DD
    (08: unsigned bytes, DD: the number of dimensions), the DD sizes as big-endian int32, then the
    bytes. ValueError naming the file when the magic is not one of unsigned bytes."""
    with open(path, "rb") as f:
        magic, = struct.unpack(">i", f.read(4))
        if magic >> 8 != 0x08 or not 1 <= magic & 0xFF <= 4:
            raise ValueError(f"{path}: not an idx file of unsigned bytes (magic {magic:#x})")
        dims = list(struct.unpack(">" + "i" * (magic & 0xFF), f.read(4 * (magic & 0xFF))))
        if count is not None:
            dims[0] = min(dims[0], count)
        size = int(np.prod(dims))
        data = np.frombuffer(f.read(size), dtype=np.uint8)
    if data.size != size:
        raise ValueError(f"{path}: {data.size} bytes of data, the header says {size}")
    return data.reshape(dims)
