"""glassnet.distributed: data-parallel training over MPI.

Two kinds of tests. In this process, a world of one (mpi4py never imported here, so no
test starts MPI in pytest): the collectives give back their input, the sampler shares
out the data, the optimizer averages gradients in buckets (against a stand-in for MPI's
sum). Then real jobs of two ranks, ``mpiexec -n 2`` in a subprocess, each bounded in
time: collectives, N ranks against one process, the training command with a resume on
another number of ranks, and the faults (a rank that raises, a rank killed).
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn
from glassnet import distributed as dist
from glassnet.distributed import comm
from glassnet.distributed.optimizer import average_gradients, buckets
from glassnet.extras import MissingExtra

HERE = Path(__file__).parent
WORKER = HERE / "distributed_worker.py"
BIN = Path(sys.executable).parent
MPIEXEC = BIN / "mpiexec"
TIMEOUT = 60  # seconds: a job that hangs fails the test instead of the suite


@pytest.fixture
def world_of_one(monkeypatch):
    """gn.distributed as init() leaves it in a process started alone without mpi4py."""
    for name in comm.LAUNCHER_SIZES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # None in sys.modules: the import fails, as if not installed
    monkeypatch.setattr(comm, "_initialized", False)
    monkeypatch.setattr(comm, "_comm", None)
    dist.init()
    yield dist


# -- a world of one --------------------------------------------------------------------------


def test_a_world_of_one_without_mpi4py(world_of_one):
    assert dist.is_initialized()
    assert (dist.rank(), dist.world_size(), dist.local_rank(), dist.local_size()) == (0, 1, 0, 1)
    dist.barrier()
    x = np.array([1.0, 2.0])
    summed = dist.all_reduce(x)
    assert summed.tolist() == [1.0, 2.0] and summed is not x
    assert dist.all_reduce(3, "average") == 3.0
    assert dist.all_reduce(gn.tensor([4.0]), "max").tolist() == [4.0]
    assert dist.broadcast(np.array([5]), root=0).tolist() == [5]
    assert dist.all_gather(np.array([1, 2])).tolist() == [[1, 2]]
    model = gn.nn.Linear(2, 2)
    before = model.weight.numpy().copy()
    dist.broadcast_parameters(model.state_dict())
    assert np.array_equal(model.weight.numpy(), before)


def test_init_refuses_to_train_alone_when_a_launcher_started_several(world_of_one, monkeypatch):
    monkeypatch.setattr(comm, "_initialized", False)
    monkeypatch.setenv("PMI_SIZE", "4")
    with pytest.raises(MissingExtra, match=r"one of 4 .* needs mpi4py, which is not installed: "
                                           r"pip install 'glassnet\[distributed\]'"):
        dist.init()


def test_ranks_before_init_and_bad_arguments_are_errors(world_of_one, monkeypatch):
    with pytest.raises(ValueError, match="all_reduce: op must be one of sum, average, max, min, got 'mean'"):
        dist.all_reduce(np.ones(2), "mean")
    with pytest.raises(TypeError, match="broadcast: expected a NumPy array, a Tensor or a number, got list"):
        dist.broadcast([1, 2])
    monkeypatch.setattr(comm, "_initialized", False)
    with pytest.raises(RuntimeError, match=r"glassnet.distributed.rank\(\): call glassnet.distributed.init\(\) first"):
        dist.rank()


def test_importing_and_training_alone_never_import_mpi4py():
    code = ("import sys, numpy as np, io, glassnet as gn\n"
            "data = gn.data.TensorDataset(np.zeros((8, 2), np.float32), np.arange(8) % 2)\n"
            "model = gn.nn.Linear(2, 2)\n"
            "gn.train.fit(model, gn.data.DataLoader(data, batch_size=4), gn.optim.SGD(model.parameters(), lr=0.1),"
            " out=io.StringIO(), progress=False)\n"
            "import glassnet.distributed, glassnet.cli\n"
            "print('mpi4py' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT, check=True)
    assert out.stdout.split() == ["False"]


# -- the sampler -----------------------------------------------------------------------------


def test_the_sampler_gives_each_rank_a_disjoint_share_padded_to_equal_length():
    shares = [list(dist.DistributedSampler(10, num_replicas=4, rank=r, seed=1)) for r in range(4)]
    assert [len(s) for s in shares] == [3, 3, 3, 3]
    drawn = sorted(i for share in shares for i in share)
    assert set(drawn) == set(range(10)) and len(drawn) == 12  # every example, two of them twice (the padding)
    order = list(dist.DistributedSampler(10, num_replicas=1, rank=0, seed=1))
    assert [shares[r][k] for k in range(3) for r in range(4)] == (order + order)[:12]  # rank r: every 4th from r


def test_the_ranks_batches_together_are_the_single_process_batch():
    order = list(dist.DistributedSampler(64, num_replicas=1, rank=0, seed=5))
    per_rank = [list(dist.DistributedSampler(64, num_replicas=4, rank=r, seed=5)) for r in range(4)]
    for k in range(4):  # global batch 16: 4 per rank
        together = sorted(i for share in per_rank for i in share[4 * k:4 * (k + 1)])
        assert together == sorted(order[16 * k:16 * (k + 1)])


def test_set_epoch_reshuffles_the_same_way_on_every_rank():
    sampler = dist.DistributedSampler(20, num_replicas=2, rank=0, seed=0)
    first = list(sampler)
    sampler.set_epoch(1)
    second = list(sampler)
    assert first != second and sorted(first) != sorted(second) or first != second
    again = dist.DistributedSampler(20, num_replicas=2, rank=0, seed=0)
    again.set_epoch(1)
    assert list(again) == second
    other = dist.DistributedSampler(20, num_replicas=2, rank=1, seed=0)
    other.set_epoch(1)
    assert sorted(list(other) + second) == list(range(20))


def test_the_sampler_drop_last_and_its_errors():
    assert [len(dist.DistributedSampler(10, num_replicas=4, rank=r, drop_last=True)) for r in range(4)] == [2] * 4
    assert list(dist.DistributedSampler(5, num_replicas=2, rank=1, shuffle=False)) == [1, 3, 0]
    with pytest.raises(ValueError, match=r"rank must be from 0 to 1 \(num_replicas=2\), got 2"):
        dist.DistributedSampler(10, num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_replicas must be a whole number of at least 1, got 0"):
        dist.DistributedSampler(10, num_replicas=0, rank=0)


def test_a_loader_with_the_sampler_resumes_at_its_position_with_the_epochs_order():
    data = gn.data.TensorDataset(np.arange(40, dtype=np.float32)[:, None], np.arange(40))
    sampler = dist.DistributedSampler(data, num_replicas=2, rank=1, seed=2)
    loader = gn.data.DataLoader(data, batch_size=4, sampler=sampler)
    sampler.set_epoch(3)
    batches = iter(loader)
    seen = [next(batches)[1].tolist() for _ in range(2)]
    state = loader.state_dict()
    assert state["order"] is None and state["position"] == 2  # the epoch gives the order back: not stored
    rest = [y.tolist() for _, y in batches]
    fresh_sampler = dist.DistributedSampler(data, num_replicas=2, rank=1, seed=2)
    fresh = gn.data.DataLoader(data, batch_size=4, sampler=fresh_sampler)
    fresh.load_state_dict(state)
    fresh_sampler.set_epoch(3)
    assert [y.tolist() for _, y in fresh] == rest and len(seen + rest) == 5


# -- the optimizer ---------------------------------------------------------------------------


def _net(seed):
    gn.manual_seed(seed)
    return gn.nn.Sequential(gn.nn.Linear(6, 8), gn.nn.ReLU(), gn.nn.Linear(8, 3))


def _gradients(net, seed):
    rng = np.random.default_rng(seed)
    loss = gn.nn.functional.cross_entropy(net(gn.tensor(rng.normal(size=(5, 6)).astype(np.float32))),
                                          gn.tensor(rng.integers(0, 3, 5)))
    net.zero_grad()
    loss.backward()
    return [p.grad.numpy().copy() for p in net.parameters()]


def test_gradients_are_averaged_in_buckets_one_call_each():
    """Two ranks played in one process: rank 1's packed buckets are recorded, then added
    to rank 0's by the stand-in for MPI's sum."""
    rank0, rank1 = _net(0), _net(0)
    g0, g1 = _gradients(rank0, 1), _gradients(rank1, 2)
    bucket_bytes = 130  # weights 192 bytes (a bucket of its own), bias 32 + weights 96, bias 12: three buckets
    assert [[p.shape for p in b] for b in buckets(list(rank0.parameters()), bucket_bytes)] == \
        [[(8, 6)], [(8,), (3, 8)], [(3,)]]
    recorded = []
    average_gradients(list(rank1.parameters()), bucket_bytes, lambda flat: recorded.append(flat.copy()), 1)
    incoming = iter(recorded)
    calls = average_gradients(list(rank0.parameters()), bucket_bytes, lambda flat: flat.__iadd__(next(incoming)), 2)
    assert calls == 3
    for p, a, b in zip(rank0.parameters(), g0, g1):
        np.testing.assert_allclose(p.grad.numpy(), (a + b) / 2, rtol=1e-6)


def test_a_gradient_missing_on_one_rank_counts_as_zeros_and_missing_on_all_stays_none():
    rank0, rank1 = _net(0), _net(0)
    _gradients(rank0, 1)
    _gradients(rank1, 2)
    last_bias = list(rank1.parameters())[-1]
    expected = list(rank0.parameters())[-1].grad.numpy() / 2
    last_bias.grad = None
    recorded = []
    average_gradients(list(rank1.parameters()), 1 << 20, lambda flat: recorded.append(flat.copy()), 1)
    average_gradients(list(rank0.parameters()), 1 << 20, lambda flat: flat.__iadd__(recorded[0]), 2)
    np.testing.assert_allclose(list(rank0.parameters())[-1].grad.numpy(), expected, rtol=1e-6)
    for net in (rank0, rank1):
        list(net.parameters())[0].grad = None
    recorded = []
    average_gradients(list(rank1.parameters()), 1 << 20, lambda flat: recorded.append(flat.copy()), 1)
    average_gradients(list(rank0.parameters()), 1 << 20, lambda flat: flat.__iadd__(recorded[0]), 2)
    assert list(rank0.parameters())[0].grad is None


def test_the_distributed_optimizer_is_the_optimizer_it_wraps(world_of_one):
    net = _net(0)
    adam = gn.optim.Adam(net.parameters(), lr=0.01)
    wrapped = dist.DistributedOptimizer(adam)
    assert isinstance(wrapped, gn.optim.Adam) and isinstance(wrapped, dist.DistributedOptimizer)
    assert type(wrapped).__name__ == "Adam"  # what a checkpoint records, with any number of ranks
    scheduler = gn.optim.lr_scheduler.StepLR(adam, step_size=1, gamma=0.5)  # on the inner one: drives both
    reference = _net(0)
    plain = gn.optim.Adam(reference.parameters(), lr=0.01)
    plain_scheduler = gn.optim.lr_scheduler.StepLR(plain, step_size=1, gamma=0.5)
    for step in range(3):
        for model, optimizer in ((net, wrapped), (reference, plain)):
            _gradients(model, step)
            optimizer.step()
        scheduler.step()
        plain_scheduler.step()
    assert wrapped.param_groups[0]["lr"] == 0.01 / 8
    np.testing.assert_array_equal(net[0].weight.numpy(), reference[0].weight.numpy())
    other = dist.DistributedOptimizer(gn.optim.Adam(_net(0).parameters(), lr=0.01))
    other.load_state_dict(wrapped.state_dict())
    assert other.state_dict()["param_groups"][0]["lr"] == 0.01 / 8
    with pytest.raises(TypeError, match="wrapped twice"):
        dist.DistributedOptimizer(wrapped)
    with pytest.raises(TypeError, match="expected a glassnet optimizer, got list"):
        dist.DistributedOptimizer([])
    with pytest.raises(ValueError, match="bucket_mb must be a positive number of megabytes, got 0"):
        dist.DistributedOptimizer(gn.optim.SGD(net.parameters(), lr=0.1), bucket_mb=0)


def test_fit_with_the_sampler_in_a_world_of_one(world_of_one):
    data = gn.data.TensorDataset(np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32), np.arange(32) % 2)
    model = gn.nn.Linear(4, 2)
    loader = gn.data.DataLoader(data, batch_size=8, sampler=dist.DistributedSampler(data, seed=0))
    history = gn.train.fit(model, loader, dist.DistributedOptimizer(gn.optim.SGD(model.parameters(), lr=0.1)),
                           epochs=2, val=data, progress=False, out=open(os.devnull, "w"))
    assert len(history) == 2 and len(history.last["step_losses"]) == 4 and history.last["val_acc"] is not None
    assert loader.sampler.epoch == 1  # fit set it to each epoch (from 0)


# -- jobs of two ranks -----------------------------------------------------------------------

needs_mpi = pytest.mark.skipif(
    not MPIEXEC.exists() or subprocess.run([sys.executable, "-c", "import mpi4py"], capture_output=True).returncode,
    reason=f"needs mpi4py and {MPIEXEC} (pip install 'glassnet[distributed]')")


def mpiexec(*args, ranks=2, timeout=TIMEOUT, cwd=None):
    return subprocess.run([str(MPIEXEC), "-n", str(ranks), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=_environment())


def _environment():
    # one thread per rank: two ranks on two cores; the launcher's own variables come from mpiexec
    env = {k: v for k, v in os.environ.items() if k not in comm.LAUNCHER_SIZES}
    return dict(env, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")


@needs_mpi
def test_two_ranks_take_the_steps_of_one_process(tmp_path):
    """Collectives on 2 ranks; then 6 steps of SGD with momentum, global batch 32 (16 a rank):
    the weights are those of one process with batch 32, to float32 rounding, on both ranks.
    With batch norm each rank normalizes its 16 examples with their own statistics: the
    weights differ, by a measured amount (about a sixth of what training moved them)."""
    out = tmp_path / "check.json"
    job = mpiexec(sys.executable, WORKER, "check", out)
    assert job.returncode == 0, job.stderr
    results = json.loads(out.read_text())
    assert results["world_size"] == 2
    assert results["checks"] == {"sum": [3.0, 2.0], "average": 0.5, "max": [1.0], "broadcast": [17],
                                 "gathered": [[0, 0], [1, -1]], "local_rank": [0, 1],
                                 "threads": [2, max(1, len(os.sched_getaffinity(0)) // 2)]}
    exact, batch_norm = results["batch_norm=False"], results["batch_norm=True"]
    assert exact["steps"] == batch_norm["steps"] == 6 and exact["ranks_agree"] and batch_norm["ranks_agree"]
    assert exact["difference"] < 1e-6 and exact["moved"] > 0.05  # float32 rounding, on weights that moved
    assert 1e-4 < batch_norm["difference"] < 0.3 * batch_norm["moved"]  # measured: 0.033 of 0.20
    assert job.stdout.count("train loss") == 2  # rank 0 printed each table, rank 1 nothing


@needs_mpi
def test_the_train_command_resumes_on_another_number_of_ranks(tmp_path):
    """2 epochs on 2 ranks, then on to 4 on 1; and 2 on 1, then on to 4 on 2: the weights
    of a 4-epoch run on 2 ranks, to float32 rounding (SGD, global batch 32)."""
    glassnet = BIN / "glassnet"
    options = ["--model", "mlp", "--dataset", "digits", "--train-size", "256", "--distributed", "--batch-size", "32",
               "--optimizer", "sgd", "--lr", "0.05", "--progress", "off"]

    def alone(*args):
        return subprocess.run([str(glassnet), *args], capture_output=True, text=True, timeout=TIMEOUT,
                              env=_environment())

    whole = mpiexec(glassnet, "train", *options, "--epochs", "4", "--save", tmp_path / "whole/model.safetensors")
    assert whole.returncode == 0, whole.stderr
    assert "distributed over 2 ranks (MPI): each takes 16 examples of every batch of 32" in whole.stdout
    assert whole.stdout.count("final test accuracy") == 1
    first = mpiexec(glassnet, "train", *options, "--epochs", "2", "--save", tmp_path / "a/model.safetensors")
    assert first.returncode == 0, first.stderr
    on = alone("train", "--resume", tmp_path / "a", "--epochs", "4")
    assert on.returncode == 0 and "resuming" in on.stdout, on.stderr
    first = alone("train", *options, "--epochs", "2", "--save", tmp_path / "b/model.safetensors")
    assert first.returncode == 0, first.stderr
    on = mpiexec(glassnet, "train", "--resume", tmp_path / "b", "--epochs", "4")
    assert on.returncode == 0, on.stderr
    expected = gn.load(tmp_path / "whole/model.safetensors")
    for run in ("a", "b"):
        weights = gn.load(tmp_path / run / "model.safetensors")
        assert max(float(np.abs(weights[k] - expected[k]).max()) for k in expected) < 1e-5
        history = [json.loads(line) for line in open(tmp_path / run / "history.jsonl")]
        assert [record["epoch"] for record in history] == [0, 1, 2, 3, 4]


@needs_mpi
def test_a_run_saved_midway_on_two_ranks_goes_on_on_one(tmp_path):
    """A checkpoint taken within an epoch (step 10 of 16) on 2 ranks holds the epoch's sums of
    both ranks and its place; one process goes on from it to the same weights and the same
    epoch record."""
    job = mpiexec(sys.executable, WORKER, "midway", tmp_path)
    assert job.returncode == 0, job.stderr
    alone = subprocess.run([sys.executable, str(WORKER), "resume", str(tmp_path)], capture_output=True, text=True,
                           timeout=TIMEOUT, env=_environment())
    assert alone.returncode == 0, alone.stderr
    assert "resuming" in alone.stdout and "epoch 2, batch 3" in alone.stdout
    whole, resumed = np.load(tmp_path / "whole.npz"), np.load(tmp_path / "resumed.npz")
    for key in whole:
        np.testing.assert_allclose(resumed[key], whole[key], rtol=1e-6, atol=1e-6, err_msg=key)


@needs_mpi
def test_the_global_batch_must_split_evenly_over_the_ranks(tmp_path):
    job = mpiexec(BIN / "glassnet", "train", "--distributed", "--batch-size", "33", "--epochs", "1", ranks=2)
    assert job.returncode != 0
    assert "--batch-size 33 is the global batch, split evenly over the 2 ranks" in job.stderr
    assert "glassnet: error: rank 0:" in job.stderr or "glassnet: error: rank 1:" in job.stderr


@needs_mpi
def test_a_rank_that_raises_ends_the_job_naming_itself():
    started = time.monotonic()
    job = mpiexec(sys.executable, WORKER, "raise", 1)
    assert job.returncode != 0
    assert "glassnet: error: rank 1: ValueError: a bad batch on purpose" in job.stderr
    assert "Traceback" in job.stderr
    assert time.monotonic() - started < TIMEOUT  # ended, not hung (the timeout would have raised)


@needs_mpi
def test_a_rank_killed_from_outside_ends_the_job_and_leaves_a_loadable_checkpoint(tmp_path):
    save = tmp_path / "run/model.safetensors"
    job = subprocess.Popen([str(MPIEXEC), "-n", "2", sys.executable, str(WORKER), "hang", str(save)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_environment())
    try:
        deadline = time.monotonic() + TIMEOUT
        while not save.exists() and time.monotonic() < deadline:  # training, and a checkpoint written
            time.sleep(0.2)
        assert save.exists(), "no checkpoint was written"
        time.sleep(0.5)
        victim = _rank_process(job.pid, rank=1)
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        out, err = job.communicate(timeout=30)
        assert time.monotonic() - killed < 30
    finally:
        if job.poll() is None:
            job.kill()
            job.communicate()
    assert job.returncode != 0
    assert "KILLED BY SIGNAL: 9" in out + err or "Killed (signal 9)" in out + err
    model = gn.nn.Sequential(gn.nn.Linear(12, 16), gn.nn.ReLU(), gn.nn.Linear(16, 3))
    gn.load(save, model)  # the last checkpoint, whole
    # written every 5 steps and at each epoch's end (4096 samples / 2 ranks / batch 8 = 256 steps)
    step = gn.serialization.load_training(str(save))["global_step"]
    assert step > 0 and (step % 5 == 0 or step % 256 == 0), step


def _rank_process(launcher, rank):
    """The process id of the given rank under ``mpiexec`` (its PMI_RANK, read from /proc)."""
    for pid in _descendants(launcher):
        try:
            environment = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        is_worker = b"distributed_worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
        if is_worker and f"PMI_RANK={rank}".encode() in environment:
            return pid
    raise AssertionError(f"no process of rank {rank} under {launcher}")


def _descendants(pid):
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return children + [d for child in children for d in _descendants(child)]
