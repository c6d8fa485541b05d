"""Information buffers of Algorithm 3 in PyTorch tensor operations, one state per element,
vectorised over all elements (no per-element Python loop), with the element count P fixed.

Interface (both kinds): push(digit, radix) does B_i <- B_i * radix + digit for every element i;
pop(radix) returns B_i mod radix and divides; popping an empty element returns 0. digit and radix
are int64 tensors (radix 1 .. 2^16). maintain() is the only operation that reads a value on the
host (one synchronisation); callers run it every few steps so that storage is grown in time; it
is also what info_bits() and empty() use.

  ExactBuffer ("exact"): the authors' semantics, one unbounded non-negative integer per element
    (limbs of 31 bits); the popped digits are those of the C++ ExactBuffer, so trajectories are
    bitwise the C++ library's with buffer="exact". Cost grows with the integers' length.
  AnsBuffer ("fast"): range asymmetric numeral systems per element: a coder state x in
    [2^40, 2^56) plus a stack of 16-bit words; digits coded with the uniform distribution over
    [0, radix) quantised to the total M = 2^24 (digit r has frequency floor(M/radix) + (r < M mod
    radix)). O(1) tensor operations per push/pop; bits used per Algorithm 3 step exceed
    log2(d/n) by at most log2((q+1)/q) for q = floor(M/n) >= 256 (0.003 bits at n = 58983).
    Its digits differ from the exact buffer's (any digit in [0, radix) keeps Algorithm 3 exact),
    so the forward trajectory differs from buffer="exact" in the last bits, and from the C++
    fast buffer's (whose coder state lives in [2^48, 2^64), unsigned 64-bit, which PyTorch lacks).
"""
import math

import torch

# Every host synchronisation of hypergrad.torch goes through host(); SYNC_COUNT counts them so
# that tests can bound them.
SYNC_COUNT = 0


def host(tensor):
    """tensor.tolist(): the one place where values move to the host."""
    global SYNC_COUNT
    SYNC_COUNT += 1
    return tensor.tolist()


MAX_RADIX_BITS = 16


def _write_unique(flat, index, values):
    """flat[index] = values for distinct indices (so the result cannot depend on the order of
    writes). Should a PyTorch version refuse scatter_ under deterministic mode, the write runs
    with the flag off for this one operation."""
    try:
        flat.scatter_(0, index, values)
    except RuntimeError as error:
        if "determinis" not in str(error):
            raise
        warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
        torch.use_deterministic_algorithms(False)
        try:
            flat.scatter_(0, index, values)
        finally:
            torch.use_deterministic_algorithms(True, warn_only=warn_only)


class ExactBuffer:
    LIMB_BITS = 31

    def __init__(self, size, device):
        self.size = size
        self.device = device
        self.limbs = torch.zeros((4, size), dtype=torch.int64, device=device)
        self.bits_bound = 0  # an upper bound on every element's bit length, without syncs

    def _active(self):
        return min(self.limbs.shape[0], self.bits_bound // self.LIMB_BITS + 1)

    def push(self, digit, radix, radix_bits=None, radix_max=None):
        self.bits_bound += MAX_RADIX_BITS
        need = self.bits_bound // self.LIMB_BITS + 1
        if need > self.limbs.shape[0]:
            grown = torch.zeros((2 * need, self.size), dtype=torch.int64, device=self.device)
            grown[:self.limbs.shape[0]] = self.limbs
            self.limbs = grown
        carry = digit.expand(self.size)
        mask = (1 << self.LIMB_BITS) - 1
        for k in range(need):
            t = self.limbs[k] * radix + carry  # < 2^31 * 2^16 + 2^16
            self.limbs[k] = t & mask
            carry = t >> self.LIMB_BITS

    def pop(self, radix, radix_bits=None, radix_min=None, radix_value=None):
        remainder = torch.zeros(self.size, dtype=torch.int64, device=self.device)
        for k in range(self._active() - 1, -1, -1):
            current = (remainder << self.LIMB_BITS) + self.limbs[k]  # < radix * 2^31
            q = torch.div(current, radix, rounding_mode="floor")
            remainder = current - q * radix
            self.limbs[k] = q
        return remainder

    def maintain(self):
        active = self._active()
        nonzero = host((self.limbs[:active] != 0).any(dim=1))
        top = max((k + 1 for k, nz in enumerate(nonzero) if nz), default=0)
        self.bits_bound = top * self.LIMB_BITS

    def info_bits(self):
        """sum_i log2(B_i) over non-zero elements (what an ideal coder needs), from each
        element's two highest limbs: log2(B) = 31 h + log2(b_h + b_(h-1) 2^-31 + ...), the rest
        below 2^-31 relative."""
        self.maintain()
        active = self._active()
        if active == 0:
            return 0.0
        limbs = self.limbs[:active]
        levels = torch.arange(active, device=self.device)[:, None].expand(-1, self.size)
        top = torch.where(limbs != 0, levels, torch.full_like(levels, -1)).amax(dim=0)  # h
        nonzero = top >= 0
        h = top.clamp(min=0)
        high = limbs.gather(0, h[None]).squeeze(0).to(torch.float64)
        below = limbs.gather(0, (h - 1).clamp(min=0)[None]).squeeze(0).to(torch.float64)
        below = torch.where(h > 0, below, torch.zeros_like(below))
        bits = self.LIMB_BITS * h.to(torch.float64) + torch.log2(high + below * 2.0 ** -31)
        return host(torch.where(nonzero, bits, torch.zeros_like(bits)).sum())

    def nbytes(self):
        return self.limbs.numel() * self.limbs.element_size()

    def empty(self):
        return not any(host((self.limbs != 0).any(dim=1)))


class AnsBuffer:
    TOTAL_BITS = 24          # M = 2^24
    LOWER_BITS = 40          # L = 2^40; states live in [L, 2^16 L)
    WORD_BITS = 16

    def __init__(self, size, device, capacity=8):
        self.size = size
        self.device = device
        self.state = torch.full((size,), 1 << self.LOWER_BITS, dtype=torch.int64, device=device)
        self.words = torch.zeros((capacity, size), dtype=torch.int16, device=device)
        self.depth = torch.zeros(size, dtype=torch.int64, device=device)
        self.columns = torch.arange(size, device=device)
        # An upper bound on every element's information bits 16 depth + log2(x) - 40, kept
        # without syncs from the radices' bounds (push adds at most log2(radix) + SLACK, pop
        # takes at least log2(radix) - SLACK) and refreshed by maintain(); depth <= bits / 16.
        self.bits_bound = 0.0

    def _frequencies(self, radix):
        """(q, rem) = divmod(M, radix), remembered for the last few radix tensors (a constant
        schedule passes the same tensors every step)."""
        cache = self.__dict__.setdefault("_cache", {})
        key = (radix.data_ptr(), radix.shape)
        if key in cache and cache[key][0] is radix:
            return cache[key][1]
        total = torch.full_like(radix, 1 << self.TOTAL_BITS)
        q = torch.div(total, radix, rounding_mode="floor")
        result = (q, total - q * radix)
        if len(cache) > 8:
            cache.clear()
        cache[key] = (radix, result)
        return result

    # Coding with frequencies floor(M/radix) or one more, radix <= 2^16, states >= 2^24 when
    # coding: a push adds at most log2(radix) + log2(1/(1 - 2^-8)) + 2^-15 bits, a pop takes at
    # least log2(radix) - the same (both 0.0057 bits at most; 0.006 leaves room).
    SLACK = 0.006

    def _room_for_a_word(self):
        need = int(max(self.bits_bound, 0.0) // self.WORD_BITS) + 2
        if need > self.words.shape[0]:
            grown = torch.zeros((max(need, self.words.shape[0] + self.words.shape[0] // 2),
                                 self.size), dtype=torch.int16, device=self.device)
            grown[:self.words.shape[0]] = self.words
            self.words = grown

    def _emit(self, limit):
        """Renormalisation before coding a digit of frequency f (limit = 2^32 f): at most one
        word, since x < 2^56 and limit >= 2^40 for f >= 256. Every element writes at its depth;
        only the emitting ones move their depth past it."""
        emit = self.state >= limit
        self._room_for_a_word()
        word = (self.state & 0xFFFF) - 32768
        _write_unique(self.words.view(-1), self.depth * self.size + self.columns,
                      word.to(torch.int16))
        self.depth = self.depth + emit.to(torch.int64)
        return torch.where(emit, self.state >> self.WORD_BITS, self.state)

    def push(self, digit, radix, radix_bits=None, radix_max=1 << MAX_RADIX_BITS):
        """radix_bits = k: every radix is 2^k (k <= 16), so every digit has frequency 2^(24-k)
        and coding is shifts and masks. radix_max: a bound on the radices (a Python number)."""
        digit = digit.expand(self.size)
        self.bits_bound += math.log2(radix_max) + self.SLACK
        if radix_bits is not None:
            f_bits = self.TOTAL_BITS - radix_bits
            x = self._emit(1 << (self.LOWER_BITS - self.TOTAL_BITS + self.WORD_BITS + f_bits))
            self.state = ((x >> f_bits) << self.TOTAL_BITS) + (digit << f_bits) + \
                (x & ((1 << f_bits) - 1))
            return
        q, rem = self._frequencies(radix)
        f = q + (digit < rem).to(torch.int64)
        cumulative = digit * q + torch.minimum(digit, rem)
        x = self._emit(f << (self.LOWER_BITS - self.TOTAL_BITS + self.WORD_BITS))
        x_div_f = torch.div(x, f, rounding_mode="floor")
        self.state = (x_div_f << self.TOTAL_BITS) + cumulative + (x - x_div_f * f)

    def _pull(self, x):
        """Renormalisation after decoding: at most one word (x >= 256 * 2^16 after a decode),
        and none from an empty stack: an element whose state drifted below 2^40 with no words
        (decoding may take up to SLACK bits more than the push before gave) keeps the smaller
        state; its next push emits nothing (x < 2^40 <= the emission limit), so pushes and pops
        still mirror each other exactly."""
        pull = (x < (1 << self.LOWER_BITS)) & (self.depth > 0)
        index = (self.depth - 1).clamp(min=0) * self.size + self.columns
        word = self.words.view(-1).gather(0, index).to(torch.int64) + 32768
        self.state = torch.where(pull, (x << self.WORD_BITS) | word, x)
        self.depth = self.depth - pull.to(torch.int64)

    def pop(self, radix, radix_bits=None, radix_min=1, radix_value=None):
        """radix_min: a bound below on the radices (a Python number); radix_value: the one
        radix of every element, when the caller knows it (a Python int)."""
        self.bits_bound -= math.log2(radix_min) - self.SLACK
        slot = self.state & ((1 << self.TOTAL_BITS) - 1)
        if radix_bits is not None:
            f_bits = self.TOTAL_BITS - radix_bits
            digit = slot >> f_bits
            self._pull(((self.state >> self.TOTAL_BITS) << f_bits) + (slot & ((1 << f_bits) - 1)))
            return digit
        if radix_value is not None:
            # One radix for every element (a Python int): the digit by float64 division, exact
            # since slot < 2^24 and q + 1 < 2^24 (a quotient that is not an integer lies at
            # least 2^-48 relative from the next one, far above double rounding's 2^-53).
            q, rem = divmod(1 << self.TOTAL_BITS, radix_value)
            boundary = rem * (q + 1)
            slot_f = slot.to(torch.float64)
            digit = torch.where(slot < boundary, torch.floor(slot_f / (q + 1)),
                                rem + torch.floor((slot_f - boundary) / q)).to(torch.int64)
            f = q + (digit < rem).to(torch.int64)
            cumulative = digit * q + digit.clamp(max=rem)
        else:
            q, rem = self._frequencies(radix)
            boundary = rem * (q + 1)
            digit = torch.where(slot < boundary, torch.div(slot, q + 1, rounding_mode="floor"),
                                rem + torch.div(slot - boundary, q, rounding_mode="floor"))
            f = q + (digit < rem).to(torch.int64)
            cumulative = digit * q + torch.minimum(digit, rem)
        self._pull(f * (self.state >> self.TOTAL_BITS) + slot - cumulative)
        return digit

    def maintain(self):
        bits = self.depth.to(torch.float64) * self.WORD_BITS + \
            torch.log2(self.state.clamp(min=1).to(torch.float64)) - self.LOWER_BITS
        self.bits_bound = host(bits.amax()) + 1e-6

    def info_bits(self):
        """sum_i (16 depth_i + log2(x_i) - 40): the bits held beyond the empty state."""
        self.maintain()
        bits = self.depth.to(torch.float64) * self.WORD_BITS + \
            torch.log2(self.state.to(torch.float64)) - self.LOWER_BITS
        return host(bits.sum())

    def nbytes(self):
        return (self.words.numel() * self.words.element_size() + self.state.numel() * 8 +
                self.depth.numel() * 8)

    def stored_bytes(self):
        """Bytes the coded information occupies: the words below each element's depth."""
        return 2 * host(self.depth.sum())

    def empty(self):
        return host(((self.depth == 0) & (self.state == (1 << self.LOWER_BITS))).all())


def make_buffer(kind, size, device):
    if kind == "exact":
        return ExactBuffer(size, device)
    if kind == "fast":
        return AnsBuffer(size, device)
    raise ValueError(f"buffer must be 'exact' or 'fast', not {kind!r}")
