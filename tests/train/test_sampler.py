import numpy as np
import pytest

from train.data import DataError, ResumableBatchSampler


def _take(sampler, n):
    it = iter(sampler)
    return [next(it) for _ in range(n)]


def test_ranks_partition_each_global_batch_and_an_epoch_visits_everything_once():
    n, bs, world = 40, 4, 2
    per_rank = [_take(ResumableBatchSampler(n, bs, seed=3, rank=r, world_size=world), 5) for r in range(world)]
    seen = [i for batches in per_rank for b in batches for _, i in b]
    assert sorted(seen) == list(range(n))  # 5 global batches of 8 = one epoch, disjoint across ranks
    assert all(e == 0 for batches in per_rank for b in batches for e, _ in b)


def test_start_skips_exactly_the_consumed_micro_batches_across_epochs():
    full = _take(ResumableBatchSampler(30, 4, seed=1), 20)  # crosses epoch boundaries (7 batches/epoch)
    for start in (0, 3, 7, 11):
        assert _take(ResumableBatchSampler(30, 4, seed=1, start=start), 20 - start) == full[start:]
    assert full[7][0][0] == 1  # the 8th batch belongs to epoch 1


def test_length_bucketing_groups_similar_lengths_and_is_deterministic():
    rng = np.random.default_rng(0)
    lengths = rng.integers(10, 500, 640)
    plain = _take(ResumableBatchSampler(640, 16, seed=0), 40)
    bucketed = _take(ResumableBatchSampler(640, 16, seed=0, lengths=lengths), 40)
    assert bucketed == _take(ResumableBatchSampler(640, 16, seed=0, lengths=lengths), 40)
    assert sorted(i for b in bucketed for _, i in b) == list(range(640))

    def padding(batches):
        return sum(max(lengths[i] for _, i in b) * len(b) - sum(lengths[i] for _, i in b) for b in batches)

    assert padding(bucketed) < padding(plain) / 4


def test_a_finite_pass_gives_every_rank_the_same_number_of_batches():
    counts = [len(list(ResumableBatchSampler(10, 4, seed=0, rank=r, world_size=2, shuffle=False, endless=False)))
              for r in range(2)]
    assert counts == [2, 2]
    covered = {i for r in range(2) for b in ResumableBatchSampler(10, 4, seed=0, rank=r, world_size=2,
                                                                  shuffle=False, endless=False) for _, i in b}
    assert covered == set(range(10))


def test_too_little_data_for_one_global_batch_is_a_clear_error():
    with pytest.raises(DataError, match="cannot fill one global batch"):
        ResumableBatchSampler(5, 4, seed=0, world_size=2)
