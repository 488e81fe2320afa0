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


def text_block(n):
    out = bytearray()
    while len(out) < n:
        line = b" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 14)))
        out += b"    " * rng.randint(0, 3) + line + b";\n"
    return bytes(out[:n])


CORPUS = text_block(8 << 20)
RANDOM = os.urandom(32 << 20)


def chunk(n):
    """n bytes: half text sliced from the corpus, half random."""
    half = n // 2
    a = rng.randrange(0, len(CORPUS) - half)
    b = rng.randrange(0, len(RANDOM) - (n - half))
    return CORPUS[a:a + half] + RANDOM[b:b + n - half]


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
