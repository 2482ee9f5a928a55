"""One pass per epoch: every training case once, across augmentation workers too."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from isla_nnunet.training.one_pass import PassStream


@pytest.mark.parametrize("n_cases, batch", [(8, 2), (7, 2), (10, 3), (1, 2), (5, 8)])
def test_every_case_once_per_epoch_at_most_twice_when_batches_wrap(n_cases, batch):
    stream = PassStream(n_cases, seed=11)
    epoch_length = math.ceil(n_cases / batch)
    for epoch in range(3):
        drawn = [i for g in range(epoch * epoch_length, (epoch + 1) * epoch_length) for i in stream.batch(g, batch)]
        counts = Counter(drawn)
        assert set(counts) <= set(range(n_cases))
        if n_cases % batch == 0:
            assert counts == Counter(range(n_cases))  # exactly one pass
        else:
            assert max(counts.values()) <= 2 + (batch > n_cases) * (batch // n_cases)
    # The stream itself is a concatenation of permutations: positions k*N .. (k+1)*N - 1 hold every case.
    flat = [i for g in range(20) for i in stream.batch(g, batch)]
    for start in range(0, len(flat) - n_cases + 1, n_cases):
        assert sorted(flat[start:start + n_cases]) == list(range(n_cases))


def test_fresh_permutation_per_pass_and_same_seed_same_stream():
    a, b = PassStream(50, seed=1), PassStream(50, seed=1)
    assert [a.batch(g, 5) for g in range(30)] == [b.batch(g, 5) for g in range(30)]
    assert list(a.permutation(0)) != list(a.permutation(1))
    assert list(PassStream(50, seed=2).permutation(0)) != list(a.permutation(0))


def test_workers_share_the_stream():
    # Worker j of k takes batches j, j + k, ...: together the first m batches of each are the stream's first k*m.
    k, m, n_cases, batch = 3, 4, 10, 2
    workers = [PassStream(n_cases, seed=5) for _ in range(k)]
    taken = sorted(tuple(workers[j].batch(b * k + j, batch)) for j in range(k) for b in range(m))
    single = PassStream(n_cases, seed=5)
    assert taken == sorted(tuple(single.batch(g, batch)) for g in range(k * m))


def test_empty_stream_is_refused():
    with pytest.raises(ValueError, match="at least one case"):
        PassStream(0, seed=0)
