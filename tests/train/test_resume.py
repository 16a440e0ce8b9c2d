"""An interrupted run resumed from its checkpoint ends with the same weights as an
uninterrupted one (tiny config, CPU, seeded)."""
import json

import pytest
import torch

from pipeline.train import CheckpointMismatchError, train

from train_helpers import tiny_config


def _strip(records):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


def _metrics(out):
    return _strip(json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines())


def test_resume_gives_the_same_result(tmp_path):
    cfg = tiny_config("tiny_resume")
    whole = train(cfg, tmp_path / "whole")
    for cut in (1, 2):  # inside the student phase, and right after a pruning step
        out = tmp_path / f"cut{cut}"
        partial = train(cfg, out, stop_after_units=cut)
        assert not torch.load(partial, weights_only=False)["finished"]
        resumed = train(cfg, out, resume=True)
        a = torch.load(whole, weights_only=False)
        b = torch.load(resumed, weights_only=False)
        assert a["arch"] == b["arch"]
        assert a["model"].keys() == b["model"].keys()
        for key in a["model"]:
            assert torch.equal(a["model"][key], b["model"][key]), key
        assert _metrics(tmp_path / "whole") == _metrics(out)


def test_resume_refuses_another_config(tmp_path):
    train(tiny_config("tiny_a"), tmp_path, stop_after_units=1)
    with pytest.raises(CheckpointMismatchError, match="without --resume"):
        train(tiny_config("tiny_a", train={"lr": 0.02}), tmp_path, resume=True)
