"""NumPy reference implementations the network tests compare against (independent of torch's ops)."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def relu(x):
    return np.maximum(x, 0.0)


def correlate(x, weight, bias, pads, stride=None):
    """Cross-correlation of one sample x (C_in, *S) with weight (C_out, C_in, *K), zero padding
    ``pads`` = ((before, after), ...) per spatial axis, and ``stride``. Returns (C_out, *S_out)."""
    d = x.ndim - 1
    stride = stride or (1,) * d
    xpad = np.pad(x, [(0, 0), *pads])
    windows = sliding_window_view(xpad, weight.shape[2:], axis=tuple(range(1, d + 1)))
    windows = windows[(slice(None), *(slice(None, None, s) for s in stride))]
    out = np.tensordot(weight, windows, axes=(list(range(1, d + 2)), [0, *range(d + 1, 2 * d + 1)]))
    return out + (0 if bias is None else bias.reshape(-1, *([1] * d)))


def tf_same_pads(size, kernel, stride):
    """TensorFlow's "same" padding: out = ceil(in / s), total = max((out - 1) * s + k - in, 0),
    the smaller half before."""
    pads = []
    for n, k, s in zip(size, kernel, stride, strict=True):
        out = -(-n // s)
        total = max((out - 1) * s + k - n, 0)
        pads.append((total // 2, total - total // 2))
    return pads


def linear_resize(a, size):
    """Separable linear resampling of (..., *S) onto ``size``, half-voxel centres (align_corners=False)."""
    d = len(size)
    for axis_offset, m in enumerate(size):
        axis = a.ndim - d + axis_offset
        n = a.shape[axis]
        src = np.maximum((np.arange(m) + 0.5) * n / m - 0.5, 0.0)
        i0 = np.minimum(np.floor(src).astype(int), n - 1)
        i1 = np.minimum(i0 + 1, n - 1)
        w = (src - i0).reshape([-1 if k == axis else 1 for k in range(a.ndim)])
        a = np.take(a, i0, axis=axis) * (1 - w) + np.take(a, i1, axis=axis) * w
    return a
