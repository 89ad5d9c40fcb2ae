"""Re-evaluation over partitions (the cluster path), run locally on Dask's bag."""

from __future__ import annotations

import json
import pickle
import sys
from decimal import Decimal

import pytest

import engine
from engine.partitions import PackBundle, evaluate_bag, evaluate_partition
from tests.conftest import ROOT

dask_bag = pytest.importorskip("dask.bag", reason="dask[bag] is in the test extra: pip install '.[test]'")

NOW = "2024-10-20T10:00:00+08:00"


def cases(count: int) -> list[dict]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import generate_cases

    return [json.loads(line) for line in generate_cases.iter_lines(count, 5)]


def test_a_bundle_is_small_and_rebuilds_the_same_policy():
    bundle = PackBundle.of("pcb-manufacturer")
    assert len(pickle.dumps(bundle)) < 200_000
    assert pickle.loads(pickle.dumps(bundle)).digest == bundle.digest
    case = cases(1)[0]
    direct = engine.load_policy("pcb-manufacturer").evaluate(case, NOW, engine="python").to_dict()
    (via_bundle,) = evaluate_partition([case], bundle, NOW)
    assert via_bundle == direct


@pytest.mark.parametrize("scheduler", ["synchronous", "processes"])
def test_dask_bag_gives_the_decisions_of_one_process(scheduler):
    batch = cases(120)
    batch.insert(7, {"case_id": "bad", "facts": {"loss_amount": "not money"}})
    policy = engine.load_policy("pcb-manufacturer")
    bag = dask_bag.from_sequence(batch, npartitions=4)
    got = evaluate_bag(bag, "pcb-manufacturer", NOW).compute(scheduler=scheduler, num_workers=2)
    assert len(got) == len(batch)
    for case, decision in zip(batch, got, strict=True):
        if case["case_id"] == "bad":
            assert decision["error"]["code"] == "case-invalid"
            continue
        normalised = json.loads(json.dumps(case), parse_float=Decimal)
        assert decision == policy.evaluate(normalised, NOW, engine="python").to_dict()
