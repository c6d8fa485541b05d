"""Writes four small MNIST-format idx files (random pixels, labels 0-9) into a folder.

Usage: make_fake_mnist.py DIR [TRAIN_COUNT [TEST_COUNT]]
Standard library only, so it runs under any python3.
"""
import os
import random
import struct
import sys


def write(path, magic, dims, payload):
    with open(path, "wb") as f:
        f.write(struct.pack(">I", magic))
        for d in dims:
            f.write(struct.pack(">I", d))
        f.write(bytes(payload))


def main():
    folder = sys.argv[1]
    train = int(sys.argv[2]) if len(sys.argv) > 2 else 600
    test = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    os.makedirs(folder, exist_ok=True)
    rng = random.Random(0)
    # Noise bytes mapped to dark (0-31) or lit (128-255) pixels, with C-speed translate().
    dark = bytes(b >> 3 for b in range(256))
    lit = bytes(128 + (b >> 1) for b in range(256))
    for prefix, count in (("train", train), ("t10k", test)):
        labels = [i % 10 for i in range(count)]
        # Each digit lights a different band of 6 rows, so a network can learn something.
        pixels = bytearray()
        for label in labels:
            noise = rng.randbytes(784)
            a, b = 2 * label * 28, (2 * label + 6) * 28
            pixels += noise[:a].translate(dark) + noise[a:b].translate(lit) + noise[b:].translate(dark)
        write(os.path.join(folder, prefix + "-images-idx3-ubyte"), 0x803, (count, 28, 28), pixels)
        write(os.path.join(folder, prefix + "-labels-idx1-ubyte"), 0x801, (count,), labels)


if __name__ == "__main__":
    main()
