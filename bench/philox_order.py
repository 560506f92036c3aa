"""spindle's training order in NumPy, so another framework can visit the
samples exactly as `spindle train` does.

It mirrors include/spindle/rng.h and include/spindle/fit.h bit for bit:
  * Philox4x32-10 (Salmon et al., SC'11) with key = (seed low 32 bits, seed
    high 32 bits) and counter words (n low, n high, stream, 0), as
    spd_philox4x32; a generator draws the four words of block 0, 1, 2, ...
    in order (spd_rng_u32);
  * spd_rng_below(bound): draw r until r < 2^32-1 - (2^32-1) % bound, then
    r % bound;
  * spd_fit_epoch_order(seed, epoch, n): order[i] = i, then for i = n down to
    2 swap order[i-1] with order[below(i)], on the generator of
    (seed, SPD_FIT_SHUFFLE_STREAM + epoch).
tests/golden/make_goldens.py stores orders made here and tests/test_golden.c
checks spd_fit_epoch_order against them, so the two cannot drift apart.
"""

import numpy as np

PHILOX_M0 = np.uint64(0xD2511F53)
PHILOX_M1 = np.uint64(0xCD9E8D57)
PHILOX_W0 = 0x9E3779B9
PHILOX_W1 = 0xBB67AE85
MASK32 = np.uint64(0xFFFFFFFF)
SHIFT32 = np.uint64(32)
FIT_SHUFFLE_STREAM = 0x53480000
U32_MAX = 0xFFFFFFFF


def philox4x32(seed, counters, stream):
    """Philox4x32-10 blocks for an array of 64-bit block counters: an array
    of shape (len(counters), 4) of uint32 words."""
    counters = np.asarray(counters, dtype=np.uint64)
    c0 = counters & MASK32
    c1 = counters >> SHIFT32
    c2 = np.full_like(c0, stream & U32_MAX)
    c3 = np.zeros_like(c0)
    k0, k1 = seed & U32_MAX, (seed >> 32) & U32_MAX
    for _ in range(10):
        p0 = PHILOX_M0 * c0
        p1 = PHILOX_M1 * c2
        hi0, lo0 = p0 >> SHIFT32, p0 & MASK32
        hi1, lo1 = p1 >> SHIFT32, p1 & MASK32
        c0, c1, c2, c3 = (hi1 ^ c1 ^ np.uint64(k0), lo1,
                          hi0 ^ c3 ^ np.uint64(k1), lo0)
        k0 = (k0 + PHILOX_W0) & U32_MAX
        k1 = (k1 + PHILOX_W1) & U32_MAX
    return np.stack([c0, c1, c2, c3], axis=1).astype(np.uint32)


class PhiloxStream:
    """The u32 sequence of spd_rng_u32 for (seed, stream), made in chunks."""

    CHUNK_BLOCKS = 1 << 14

    def __init__(self, seed, stream):
        self.seed, self.stream = seed, stream
        self.next_block = 0
        self.words = np.empty(0, dtype=np.uint32)
        self.pos = 0

    def _refill(self):
        blocks = np.arange(self.next_block, self.next_block + self.CHUNK_BLOCKS,
                           dtype=np.uint64)
        self.next_block += self.CHUNK_BLOCKS
        fresh = philox4x32(self.seed, blocks, self.stream).reshape(-1)
        self.words = np.concatenate([self.words[self.pos:], fresh])
        self.pos = 0

    def u32(self):
        if self.pos >= len(self.words):
            self._refill()
        value = int(self.words[self.pos])
        self.pos += 1
        return value

    def below(self, bound):
        limit = U32_MAX - U32_MAX % bound
        while True:
            r = self.u32()
            if r < limit:
                return r % bound


def epoch_order(seed, epoch, n):
    """spd_fit_epoch_order: the sample indices of epoch @epoch (0-based)."""
    rng = PhiloxStream(seed, FIT_SHUFFLE_STREAM + epoch)
    order = list(range(n))
    for i in range(n, 1, -1):
        j = rng.below(i)
        order[i - 1], order[j] = order[j], order[i - 1]
    return np.array(order, dtype=np.int64)


def _known_answer():
    """Random123's known answer for philox4x32_10 with zero key and counter
    (the same vector tests/test_base.c checks in C)."""
    got = philox4x32(0, [0], 0)[0].tolist()
    assert got == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8], got


_known_answer()
