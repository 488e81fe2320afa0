#!/usr/bin/env python3
"""Generate the archive benchmark workloads (deterministic, seed 1).

usage: gen_archive_data.py w1|w2 DIR [SCALE]

w1: 100,000 small files (~1 GiB) in 100 directories of 1,000, sizes 1..20 KiB.
w2: 4 large files (~2 GiB), each 512 MiB.
Contents mix incompressible bytes and text-like bytes (about half each), so
compression has real work to do without the data being all noise. SCALE
(default 1.0) shrinks both for quick runs.
"""
import os
import random
import sys

rng = random.Random(1)
WORDS = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz_") for _ in range(rng.randint(2, 12)))
         for _ in range(5000)]
# Text is a fresh sequence of lines drawn from a pool: repeats are a line or two long,
# as in source or symbol tables, never kilobytes. Random bytes are fresh for every
# chunk. An earlier version sliced both halves out of one 8 MiB text buffer and one
# 32 MiB random buffer; a compressor with a long window (the peer's zstd --long=30)
# found those slices again and packed the "incompressible" half 4x smaller.
LINES = [b"    " * rng.randint(0, 3) + b" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 14)))
         + b";\n" for _ in range(200_000)]


def text_block(n):
    out = bytearray()
    while len(out) < n:
        out += b"".join(rng.choices(LINES, k=64))
    return bytes(out[:n])


def chunk(n):
    """n bytes: half text-like lines, half random."""
    half = n // 2
    return text_block(half) + rng.randbytes(n - half)


def w1(root, scale):
    nfiles = int(100_000 * scale)
    per_dir = 1000
    for i in range(nfiles):
        d = os.path.join(root, "pkg%03d" % (i // per_dir))
        if i % per_dir == 0:
            os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "f%05d.dat" % i), "wb") as f:
            f.write(chunk(rng.randint(1024, 20 * 1024)))


def w2(root, scale):
    os.makedirs(root, exist_ok=True)
    size = int((512 << 20) * scale)
    for i in range(4):
        with open(os.path.join(root, "blob%d.bin" % i), "wb") as f:
            done = 0
            while done < size:
                n = min(1 << 20, size - done)
                f.write(chunk(n))
                done += n


if __name__ == "__main__":
    kind, root = sys.argv[1], sys.argv[2]
    scale = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
    {"w1": w1, "w2": w2}[kind](root, scale)
