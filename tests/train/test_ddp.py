"""DistributedDataParallel under torchrun: 2 processes, gloo backend, CPU, tiny config."""
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from pipeline import reference
from pipeline.lower import load_model, lower_checkpoint

from train_helpers import ROOT, TINY


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_torchrun_two_processes(tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_port", str(_free_port()), "-m", "pipeline", "train", "--config", str(TINY),
           "--out", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ckpt = torch.load(out / "checkpoint.pt", weights_only=False)
    assert ckpt["finished"] and ckpt["world_size"] == 2
    assert ckpt["rank_params_equal"]  # DDP kept both replicas identical
    model, _ = load_model(out / "checkpoint.pt")
    with np.load(Path(out) / "data" / "dataset.npz") as z:
        images = z["test_images"]
    assert np.array_equal(model.integer_logits(torch.from_numpy(images)).numpy(),
                          reference.run(lower_checkpoint(out / "checkpoint.pt"), images).logits)
