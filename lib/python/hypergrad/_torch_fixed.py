"""Exact fixed-point arithmetic in PyTorch tensor operations (any device).

Two formats, the same as the C++ library's:
  * 64-bit: the integer trunc(x * 2^52) in int64, |x| < 2048, resolution 2^-52 (w, SGD's v);
  * wide: trunc(x * 2^WIDE_FRACTION_BITS) in a signed 128-bit integer, held as WIDE_LIMBS limbs
    of 32 bits in int64 tensors (limb 0 lowest, limbs 0..2 in [0, 2^32), the top limb signed),
    for Adam's moments m and s. With 116 fraction bits: |x| < 2^11 = 2048, resolution 2^-116
    (1.2e-35), so (1 - beta2) g^2 stays non-zero for |g| >= 1e-12 where the 2^52 grid loses it
    below |g| ~ 5e-7.
Conversions truncate toward zero, so adding a double and later subtracting the same double
restores the exact bits (trunc(-y) = -trunc(y)). Conversions to double round to nearest (for the
wide format the correctly rounded 128-bit -> double cast, then an exact scaling by 2^-R).

Algorithm 3 (Maclaurin et al. 2015) multiplies a fixed-point value c by n/d exactly:
  B <- B*d + (c mod d); c <- c div d; c <- c*n; c <- c + (B mod n); B <- B div n
with floor division and non-negative remainder; its inverse is the same operation with n and d
swapped. n/d is the authors' rule for a decay 0 < beta < 1: d = 65536, n = floor(beta*65536) + 1
(so n/d exceeds beta by at most 2^-16), n = d for beta >= 65535/65536.
"""
import torch

# 64-bit format: radix 2^52 (the C++ kRadix).
RADIX_BITS = 52
RADIX = float(2 ** RADIX_BITS)
UNIT = 1.0 / RADIX
LIMIT = 2048.0
_TWO63 = float(2 ** 63)

# Wide format (Adam's m and s). These two constants are the C++ kAdamMomentFormat{116, 128}
# (lib/optimizers/reversible_adam.h on the branch that moves Adam's moments to a finer grid); change them
# together with it.
WIDE_FRACTION_BITS = 116
WIDE_WIDTH = 128
WIDE_LIMB_BITS = 32
WIDE_LIMBS = WIDE_WIDTH // WIDE_LIMB_BITS
WIDE_RADIX = float(2 ** WIDE_FRACTION_BITS)
WIDE_LIMIT = float(2 ** (WIDE_WIDTH - 1 - WIDE_FRACTION_BITS))
_WIDE_TOP = float(2 ** (WIDE_WIDTH - 1))
_BASE = 2 ** WIDE_LIMB_BITS
_MASK = _BASE - 1

# Algorithm 3's denominator for decays in (0, 1) (the authors' 2^16).
RATIO_DENOMINATOR = 65536


def momentum_ratio(beta):
    """(n, d) as float64 tensors for decays beta (float64 tensor, 0 < beta < 1): the authors'
    d = floor(65536 / floor(beta + 1)), n = trunc(beta * d + 1), computed in double."""
    d = torch.floor(65536.0 / torch.floor(beta + 1.0))
    n = torch.trunc(beta * d + 1.0)
    return n, d


def to_fixed(x):
    """trunc(x * 2^52) as int64, and a bool tensor marking elements out of range or not finite
    (their integers are meaningless)."""
    y = x * RADIX  # exact: scaling by a power of two
    bad = ~(y.abs() < _TWO63)
    return torch.where(bad, torch.zeros_like(y), y).to(torch.int64), bad


def to_fixed_unchecked(x):
    """trunc(x * 2^52) as int64 for |x| < 2048; callers check the range apart (the integer
    of a value outside it is meaningless)."""
    return (x * RADIX).to(torch.int64)


def from_fixed(i):
    """The doubles i / 2^52 (int64 -> double rounds to nearest)."""
    return i.to(torch.float64) * UNIT


def floor_divmod(c, m):
    """(floor(c / m), c mod m) for int64 tensors, m > 0: Python's divmod, elementwise."""
    q = torch.div(c, m, rounding_mode="floor")
    return q, c - q * m


def multiply_by_ratio(c, n, d, buffer, d_bits=None, bounds=(1, RATIO_DENOMINATOR)):
    """Algorithm 3 on int64 c: c * n / d exactly, digits through `buffer` (push base d, pop
    base n). n, d: int64 tensors broadcastable to c, 1 <= n <= d <= 2^16. d_bits = k states
    that every d is 2^k (the authors' d = 65536 for decays below 1): shifts replace divisions.
    bounds = (least n, largest d[, n when all are equal]) as Python numbers: the buffer sizes its
    storage from them (and decodes faster with one n)."""
    if d_bits is None:
        q, r = floor_divmod(c, d)
    else:
        q, r = c >> d_bits, c & ((1 << d_bits) - 1)  # arithmetic shift: floor for c < 0
    buffer.push(r, d, d_bits, radix_max=bounds[1])
    return q * n + buffer.pop(n, radix_min=bounds[0],
                              radix_value=bounds[2] if len(bounds) > 2 else None)


def divide_by_ratio(c, n, d, buffer, d_bits=None, bounds=(1, RATIO_DENOMINATOR)):
    """The exact inverse of multiply_by_ratio with the same n, d (push base n, pop base d);
    bounds = (least d, largest n)."""
    q, r = floor_divmod(c, n)
    buffer.push(r, n, radix_max=bounds[1])
    return q * d + buffer.pop(d, d_bits, radix_min=bounds[0])


# ---- the wide format -------------------------------------------------------------------------

def wide_zeros(size, device):
    return torch.zeros((WIDE_LIMBS, size), dtype=torch.int64, device=device)


def _normalize(limbs):
    """Carries so that limbs 0..L-2 lie in [0, 2^32) (arithmetic shifts floor for negatives)."""
    for k in range(WIDE_LIMBS - 1):
        carry = limbs[k] >> WIDE_LIMB_BITS
        limbs[k] = limbs[k] - carry * _BASE
        limbs[k + 1] = limbs[k + 1] + carry
    return limbs


def wide_from_scaled(y):
    """trunc(y) as wide limbs for doubles y with |y| < 2^127 (y = x * 2^R, exact); returns the
    limbs (L, P) and a bool tensor marking |y| >= 2^127 or not finite."""
    bad = ~(y.abs() < _WIDE_TOP)
    a = torch.where(bad, torch.zeros_like(y), y).abs()
    limbs = []
    for k in range(WIDE_LIMBS - 1, 0, -1):
        scale = float(2 ** (WIDE_LIMB_BITS * k))
        top = torch.floor(a / scale)  # exact: division by a power of two, then floor
        a = a - top * scale           # exact: the low bits of a double
        limbs.append(top)
    limbs.append(torch.floor(a))
    limbs = [l.to(torch.int64) for l in reversed(limbs)]  # lowest first
    negative = y < 0
    limbs = [torch.where(negative, -l, l) for l in limbs]
    return torch.stack(_normalize(limbs)), bad


def wide_add(a, b):
    """a + b exactly, and a bool tensor marking results outside the signed 128-bit range."""
    s = torch.stack(_normalize(list(a + b)))
    return s, _wide_out_of_range(s)


def wide_sub(a, b):
    s = torch.stack(_normalize(list(a - b)))
    return s, _wide_out_of_range(s)


def _wide_out_of_range(limbs):
    half = 2 ** (WIDE_LIMB_BITS - 1)
    top = limbs[WIDE_LIMBS - 1]
    return (top >= half) | (top < -half)


def wide_to_double(limbs):
    """The correctly rounded double of the 128-bit integer, times 2^-R (exact scaling).

    Round to odd, then to nearest: with Y = floor(|V| / 2^s) holding 58-61 significant bits and
    its lowest bit set when any of the s discarded bits is non-zero, the int64 -> double cast of
    Y (round to nearest even) times 2^s is |V| correctly rounded (Y has >= 2 bits more than a
    double, so the sticky bit decides ties and halfway cases as the discarded bits would)."""
    negative = limbs[WIDE_LIMBS - 1] < 0
    mag = torch.stack(_normalize([torch.where(negative, -l, l) for l in limbs]))
    b = [mag[k] for k in range(WIDE_LIMBS)]
    approx = torch.zeros_like(b[0], dtype=torch.float64)
    for k in range(WIDE_LIMBS - 1, -1, -1):
        approx = approx * float(_BASE) + b[k].to(torch.float64)
    _, e = torch.frexp(approx)            # approx in [2^(e-1), 2^e)
    s = (e.to(torch.int64) - 60).clamp(min=0)
    q = torch.div(s, WIDE_LIMB_BITS, rounding_mode="floor")
    r = s - q * WIDE_LIMB_BITS
    zero = torch.zeros_like(b[0])
    # limbs shifted down by q whole limbs (q in 0..2: |V| < 2^128 and Y < 2^62)
    c0 = torch.where(q == 0, b[0], torch.where(q == 1, b[1], b[2]))
    c1 = torch.where(q == 0, b[1], torch.where(q == 1, b[2], b[3]))
    c2 = torch.where(q == 0, b[2], torch.where(q == 1, b[3], zero))
    dropped = ((q >= 1) & (b[0] != 0)) | ((q >= 2) & (b[1] != 0))
    y = (c0 >> r) + (c1 << (WIDE_LIMB_BITS - r))
    y = y + torch.where(c2 == 0, zero, c2 << (2 * WIDE_LIMB_BITS - r).clamp(max=63))
    sticky = dropped | ((c0 & ((torch.ones_like(r) << r) - 1)) != 0)
    y = y | sticky.to(torch.int64)
    powers = _powers_of_two(y.device)
    value = y.to(torch.float64) * powers[s] * (1.0 / WIDE_RADIX)  # exact: powers of two
    return torch.where(negative, -value, value)


_POWERS = {}


def _powers_of_two(device):
    """2^0 .. 2^68 as float64 on `device`, made once per device (no copy per call)."""
    if device not in _POWERS:
        _POWERS[device] = torch.tensor([2.0 ** k for k in range(69)], dtype=torch.float64,
                                       device=device)
    return _POWERS[device]


def wide_multiply_by_ratio(limbs, n, d, buffer, bounds=(1, RATIO_DENOMINATOR)):
    """Algorithm 3 on wide values: V * n / d exactly (push V mod d, pop base n); returns the
    new limbs and a bool tensor marking results outside the 128-bit range (possible only for
    n > d)."""
    top = limbs[WIDE_LIMBS - 1]
    q_top, r = floor_divmod(top, d)
    quotient = [None] * WIDE_LIMBS
    quotient[WIDE_LIMBS - 1] = q_top
    for k in range(WIDE_LIMBS - 2, -1, -1):
        current = r * _BASE + limbs[k]  # < d * 2^32 <= 2^48
        quotient[k], r = floor_divmod(current, d)
    buffer.push(r, d, radix_max=bounds[1])
    product = [l * n for l in quotient]
    product[0] = product[0] + buffer.pop(n, radix_min=bounds[0])
    result = torch.stack(_normalize(product))
    return result, _wide_out_of_range(result)


def wide_divide_by_ratio(limbs, n, d, buffer, bounds=(1, RATIO_DENOMINATOR)):
    """The exact inverse of wide_multiply_by_ratio; bounds = (least d, largest n)."""
    return wide_multiply_by_ratio(limbs, d, n, buffer, bounds)
