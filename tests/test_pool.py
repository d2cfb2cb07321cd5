"""ImagePool: pass-through, filling, the 0.5 swap, determinism and resume."""
import io
import random
from collections import Counter

import pytest
import torch

from gantool.models.pool import ImagePool


def images(*ids):
    """A batch (N, 1, 2, 2) whose image k is filled with the value k, so outputs can be identified."""
    return torch.stack([torch.full((1, 2, 2), float(k)) for k in ids])


def ids(batch):
    return [int(v) for v in batch[:, 0, 0, 0].tolist()]


def stored(pool):
    return sorted(int(image[0, 0, 0]) for image in pool.images)


def test_size_zero_passes_through():
    pool = ImagePool(0)
    batch = images(1, 2).requires_grad_(True)
    assert pool.query(batch) is batch
    assert len(pool) == 0


def test_negative_size_is_an_error():
    with pytest.raises(ValueError, match="pool_size"):
        ImagePool(-1)


def test_fills_with_detached_clones_then_mixes():
    pool = ImagePool(3, seed=0)
    batch = images(1, 2).requires_grad_(True)
    out = pool.query(batch)
    assert ids(out) == [1, 2] and not out.requires_grad
    batch.data.fill_(9.0)  # the generator reusing its buffer must not change the history
    assert stored(pool) == [1, 2]
    # the third image fills the pool and comes back unchanged; the fourth may swap
    out = pool.query(images(3, 4))
    assert ids(out)[0] == 3 and len(pool) == 3
    assert ids(out)[1] in (1, 2, 3, 4)


def test_swaps_conserve_images():
    pool = ImagePool(4, seed=1)
    pool.query(images(0, 1, 2, 3))
    next_id = 4
    for _ in range(50):
        before = stored(pool)
        new = list(range(next_id, next_id + 3))
        next_id += 3
        out = pool.query(images(*new))
        assert out.shape == (3, 1, 2, 2)
        # every image is either returned or kept, exactly once
        assert sorted(stored(pool) + ids(out)) == sorted(before + new)
        assert len(pool) == 4


def test_half_of_the_queries_come_from_the_history():
    pool = ImagePool(10, seed=123)
    pool.query(images(*range(10)))
    from_history, slots = 0, Counter()
    for k in range(10, 4010):
        before = [int(image[0, 0, 0]) for image in pool.images]
        (returned,) = ids(pool.query(images(k)))
        if returned != k:
            from_history += 1
            slots[before.index(returned)] += 1
    # fixed seed, so this is exact and cannot flake; binomial(4000, 0.5) has std ~32
    assert 1900 < from_history < 2100
    assert sorted(slots) == list(range(10)) and min(slots.values()) > 120


def test_own_rng_ignores_the_global_one():
    outputs = []
    for global_seed in (0, 1):
        random.seed(global_seed)
        pool = ImagePool(2, seed=5)
        run = []
        for k in range(0, 40, 2):
            random.random()
            run.append(ids(pool.query(images(k, k + 1))))
        outputs.append(run)
    assert outputs[0] == outputs[1]
    other = ImagePool(2, seed=6)
    assert [ids(other.query(images(k, k + 1))) for k in range(0, 40, 2)] != outputs[0]


def test_state_round_trip_continues_identically():
    pool = ImagePool(5, seed=3)
    for k in range(0, 24, 3):
        pool.query(images(k, k + 1, k + 2))
    buffer = io.BytesIO()
    torch.save(pool.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    resumed = ImagePool(5, seed=999)
    resumed.load_state_dict(state, device="cpu")
    assert stored(resumed) == stored(pool)
    for k in range(100, 160, 3):
        batch = images(k, k + 1, k + 2)
        assert torch.equal(pool.query(batch), resumed.query(batch))
    assert stored(resumed) == stored(pool)


def test_state_dict_is_plain_cpu_data():
    pool = ImagePool(2, seed=0)
    pool.query(images(1))
    state = pool.state_dict()
    assert state["pool_size"] == 2
    assert [t.device.type for t in state["images"]] == ["cpu"]
    assert isinstance(state["rng_state"], tuple)


def test_loading_more_images_than_the_pool_holds_fails():
    big = ImagePool(4)
    big.query(images(1, 2, 3, 4))
    with pytest.raises(ValueError, match="holds 4 images but --pool_size is 2"):
        ImagePool(2).load_state_dict(big.state_dict())
