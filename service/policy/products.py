"""Boolean matrix products over rule rows, the work-horse of the vectorised truth tables.

``or_product(left, right)`` is ``OR_r left[r, x] AND right[r, y]``: with one
row per rule, ``left`` the classes a rule's one side admits and ``right`` the
other side's, it is every (x, y) some rule matches.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from service.policy.classes import BoolArray

__all__ = ["merge_rows", "or_product"]

# Rows above which identical rule rows are merged before a product.
_MERGE_ABOVE = 16
# Rows above which a product goes to BLAS rather than row-by-row ORs.
_BLAS_ABOVE = 48
# Upper bound on float32 product elements held at once (64 MiB).
_CHUNK_ELEMENTS = 16 * 1024 * 1024


def or_product(left: BoolArray, right: BoolArray) -> BoolArray:
    """Boolean ``leftᵀ @ right``: out[x, y] = OR_r left[r, x] AND right[r, y].

    Rows sharing a left (or right) side are merged first. Few rows (the usual
    case: the rules of one namespace) are ORed in row by row; many go through
    float32 BLAS in column chunks that bound the temporary to _CHUNK_ELEMENTS.
    Row by row avoids BLAS's thread start-up on hundreds of small products,
    which costs several times the work itself on a busy machine.
    """
    left, right = merge_rows(left, right)
    right, left = merge_rows(right, left)
    width, height = left.shape[1], right.shape[1]
    if len(left) <= _BLAS_ABOVE:
        out = np.zeros((width, height), dtype=np.bool_)
        for row, values in zip(left, right, strict=True):
            hit = np.flatnonzero(row)
            if len(hit):
                out[hit] |= values
        return out
    lhs = np.ascontiguousarray(left.T, dtype=np.float32)
    out = np.empty((width, height), dtype=np.bool_)
    step = max(1, _CHUNK_ELEMENTS // max(width, 1))
    for start in range(0, height, step):
        stop = min(height, start + step)
        product = lhs @ right[:, start:stop].astype(np.float32)
        np.greater(product, 0.5, out=out[:, start:stop])
    return out


def merge_rows(key: BoolArray, value: BoolArray) -> tuple[BoolArray, BoolArray]:
    """Rows with equal ``key`` become one row whose ``value`` is the OR of theirs."""
    if len(key) <= _MERGE_ABOVE:
        return key, value
    packed = np.packbits(key, axis=1)
    unique, inverse = np.unique(packed, axis=0, return_inverse=True)
    if len(unique) == len(key):
        return key, value
    groups = inverse.reshape(-1)
    order: npt.NDArray[np.intp] = np.argsort(groups, kind="stable")
    starts = np.searchsorted(groups[order], np.arange(len(unique)))
    merged: BoolArray = np.logical_or.reduceat(value[order], starts, axis=0)
    return key[order[starts]], merged
