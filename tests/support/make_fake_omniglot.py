"""Writes a small zip in the layout of images_background_small1.zip: the five alphabets of the
Omniglot experiment, a few characters each, 15 drawers, 105 × 105 gray PNGs (white background,
a black bar whose place depends on the character).

Usage: make_fake_omniglot.py ZIP [CHARACTERS]   (standard library only)
"""
import struct
import sys
import zipfile
import zlib

ALPHABETS = ("Balinese", "Early_Aramaic", "Greek", "Korean", "Latin")


def png(pixels, side=105):
    """An 8-bit gray PNG from rows of byte values."""
    raw = b"".join(b"\x00" + bytes(row) for row in pixels)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def main():
    path = sys.argv[1]
    characters = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with zipfile.ZipFile(path, "w") as archive:
        for a, alphabet in enumerate(ALPHABETS):
            for c in range(1, characters + 1):
                for drawer in range(1, 16):
                    top = (10 * c + 3 * a + drawer) % 80
                    rows = [[0 if top <= r < top + 20 and 20 <= col < 85 else 255 for col in range(105)]
                            for r in range(105)]
                    name = f"images_background_small1/{alphabet}/character{c:02d}/{a:02d}{c:02d}_{drawer:02d}.png"
                    archive.writestr(name, png(rows))


if __name__ == "__main__":
    main()
