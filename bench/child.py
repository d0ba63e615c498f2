"""One framework training one model in a process of its own, driven by the benchmark
over a pipe.

glassnet and PyTorch each run in their own child process, so that each figure is what a
user of that framework alone would see: the glassnet child never imports torch, the
PyTorch child never imports glassnet (both checked after every command), and the peak
memory a child reads is its own. The parent (bench_models.py, bench_scale.py) starts
the two with :func:`pair`, then sends one command at a time to one child and reads its
one-line JSON reply; :func:`interleaved` alternates the two children block by block,
with a pause before each block so that the idle threads of the other framework's
thread pools (OpenMP and OpenBLAS spin for a while before they sleep) have stopped
taking CPU time. The commands:

    memory  reset the peak counter, train ``steps`` steps: the growth
            of the resident set while training and its absolute peak (VmHWM), in MB,
            and the seconds per step (a rough figure, to size the timed blocks)
    train   ``warmup`` untimed steps, then seconds per training step over ``steps`` steps
    infer   seconds per forward pass in eval mode without autograd, over ``batches``
            batches after ``warmup`` untimed ones
    quit

Each command names the thread count it runs at: glassnet calls ``glassnet.set_num_threads``
(its one pool shares out element-wise work and matrix products, with NumPy's BLAS on one
thread; a glassnet from before that function limits NumPy's BLAS with threadpoolctl);
PyTorch calls ``torch.set_num_threads``.

A workload (:func:`workload`) names a model of ``glassnet.models``, the batch size and the
options of the model builder (e.g. ``hidden=[256, 256]`` for mlp, ``context=256`` for gpt).
Image models train on random (batch, 1, 28, 28) images with 10 classes, gpt on random
token windows from a vocabulary of 96: the time of a step does not depend on the values,
and both children make the same batches from the same seed. The steps cycle over a few
distinct batches, so that the data adds little to the memory figures.

The glassnet child builds the model after ``glassnet.seed(0)`` and writes its initial
weights to an .npz file; the PyTorch child loads them into the twin (bench/torch_twins.py)
with strict loading, which proves that both run the same architecture. The training step
is the same in both: forward, cross-entropy, zero_grad, backward, Adam (lr 1e-3).

This file runs as a script only when the parent starts a child:
``python bench/child.py FRAMEWORK WORKLOAD_JSON WEIGHTS_NPZ``.
"""
import os

# what importing glassnet before NumPy does (glassnet/__init__.py): OpenBLAS's idle threads
# stop spinning 0.4 ms after a product, not 0.1 s; it must be set before NumPy loads OpenBLAS
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")

import contextlib  # noqa: E402
import gc
import json
import subprocess
import sys
import tempfile
import time

import numpy as np

IMAGE_SHAPE, CLASSES = (1, 28, 28), 10
GPT_VOCAB, GPT_BATCH, GPT_CONTEXT = 96, 32, 128
IMAGE_BATCH = 128
DISTINCT_BATCHES = 8
FRAMEWORKS = ("glassnet", "torch")
NAMES = {"glassnet": "glassnet", "torch": "PyTorch"}

# -- the workload ----------------------------------------------------------------------------


def workload(model, batch=None, **options):
    """What a child trains: ``model`` with ``options``, on batches of ``batch`` (default:
    128 images; gpt 32 windows of ``context`` tokens, 128 by default)."""
    if model == "gpt":
        options.setdefault("context", GPT_CONTEXT)
    return {"model": model, "batch": batch or (GPT_BATCH if model == "gpt" else IMAGE_BATCH), "options": options}


def describe_batch(work):
    """The batch of a workload in words: '128 images' or '32 x 128 tokens'."""
    if work["model"] == "gpt":
        return f"{work['batch']} x {work['options']['context']} tokens"
    return f"{work['batch']} images"


def make_batches(work, count=DISTINCT_BATCHES, seed=0):
    """``count`` (inputs, targets) pairs of NumPy arrays for ``work``: the same in every process."""
    rng = np.random.default_rng(seed)
    batch = work["batch"]
    if work["model"] == "gpt":
        tokens = rng.integers(0, GPT_VOCAB, (count, batch, work["options"]["context"] + 1))
        return [(t[:, :-1].copy(), t[:, 1:].copy()) for t in tokens]
    return [(rng.random((batch, *IMAGE_SHAPE), dtype=np.float32), rng.integers(0, CLASSES, batch, dtype=np.int64))
            for _ in range(count)]


def builder_args(work):
    """The positional arguments of the model builder, the same for glassnet and the twin."""
    return (GPT_VOCAB,) if work["model"] == "gpt" else (IMAGE_SHAPE, CLASSES)


# -- memory, from /proc ----------------------------------------------------------------------


def status_mb(field):
    """A field of /proc/self/status in MB: VmRSS, the resident set now, or VmHWM, its peak
    since the process started or since :func:`reset_peak`. (Not getrusage: its ru_maxrss
    cannot be reset.)"""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak():
    """Set this process's VmHWM to its current resident set (Linux: '5' to clear_refs)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


# -- the child's side --------------------------------------------------------------------------


class Runner:
    """Trains and runs one model; the subclasses hold what differs between frameworks:
    ``set_threads``, ``step`` (one training step), ``forward`` and ``no_grad``."""

    def __init__(self, work):
        self.work = work
        self.batches = make_batches(work)
        self.next = 0

    def batch(self):
        inputs, targets = self.batches[self.next % len(self.batches)]
        self.next += 1
        return inputs, targets

    def train_steps(self, steps):
        for _ in range(steps):
            self.step(*self.batch())

    def memory(self, steps, threads):
        """Growth of the resident set over ``steps`` training steps, and its absolute peak.

        The peak counter is reset once the framework, the model and the batches are in
        memory, before the first step: the growth is all that training adds (gradients,
        the optimizer's state, activations saved for backward, the temporaries of forward,
        backward and the update), whatever each framework's allocator keeps between steps.
        "The framework" includes the code it loads on first use (glassnet's compiled
        kernels and numba, about 110 MB; PyTorch's lazily initialized parts): one forward
        and backward pass on two samples, whose gradients are then dropped, and one Adam
        step of a throwaway parameter load it before the reset. The absolute peak counts
        the whole process, imports included."""
        self.set_threads(threads)
        inputs, targets = self.batches[0]
        self.load_code(inputs[:2], targets[:2])
        gc.collect()
        reset_peak()
        rss = status_mb("VmRSS")
        start = time.perf_counter()
        self.train_steps(steps)
        seconds = (time.perf_counter() - start) / steps
        peak = status_mb("VmHWM")
        return {"rss_mb": rss, "peak_mb": peak, "growth_mb": peak - rss, "seconds": seconds}

    def train(self, steps, threads, warmup=2):
        """Seconds per training step, over ``steps`` steps after ``warmup`` untimed ones."""
        self.set_threads(threads)
        self.train_steps(warmup)
        start = time.perf_counter()
        self.train_steps(steps)
        return {"seconds": (time.perf_counter() - start) / steps}

    def infer(self, batches, threads, warmup=1):
        """Seconds per forward pass of a batch in eval mode without autograd, over
        ``batches`` batches after ``warmup`` untimed ones."""
        self.set_threads(threads)
        self.model.eval()
        try:
            with self.no_grad():
                for _ in range(warmup):
                    self.forward(self.batch()[0])
                start = time.perf_counter()
                for _ in range(batches):
                    self.forward(self.batch()[0])
                seconds = (time.perf_counter() - start) / batches
        finally:
            self.model.train()
        return {"seconds": seconds}


class GlassnetRunner(Runner):
    """The workload in glassnet; writes the initial weights to ``weights_path`` if given."""

    def __init__(self, work, weights_path=None):
        import glassnet as gn
        from glassnet.nn import functional as F
        from threadpoolctl import threadpool_limits

        super().__init__(work)
        self.gn, self.F, self.threadpool_limits = gn, F, threadpool_limits
        gn.seed(0)
        if work["model"] == "gpt":
            self.model = gn.models.gpt(*builder_args(work), **work["options"])
        else:
            self.model = gn.models.build(work["model"], *builder_args(work), **work["options"])
        if weights_path:
            np.savez(weights_path, **self.model.state_dict())
        self.optimizer = gn.optim.Adam(self.model.parameters(), lr=1e-3)
        self.model.train()
        self.no_grad = gn.no_grad

    def info(self):
        from importlib.metadata import version

        return {"version": version("glassnet"), "set_num_threads": hasattr(self.gn, "set_num_threads"),
                "available": self.gn.models.available()}

    def set_threads(self, threads):
        if hasattr(self.gn, "set_num_threads"):  # glassnet's pool, which shares out its products itself
            self.gn.set_num_threads(threads)
        else:  # before issue 11: NumPy's BLAS threads
            self.limits = self.threadpool_limits(limits=threads)

    def step(self, inputs, targets):
        logits = self.model(self.gn.from_numpy(inputs))  # no copy, as torch.from_numpy
        loss = self.F.cross_entropy(logits.reshape(-1, logits.shape[-1]), self.gn.from_numpy(targets.reshape(-1)))
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()

    def forward(self, inputs):
        return self.model(self.gn.from_numpy(inputs))

    def load_code(self, inputs, targets):
        gn = self.gn
        logits = self.model(gn.from_numpy(inputs))
        self.F.cross_entropy(logits.reshape(-1, logits.shape[-1]), gn.from_numpy(targets.reshape(-1))).backward()
        for parameter in self.model.parameters():
            parameter.grad = None
        throwaway = gn.nn.Parameter(np.zeros(8, np.float32))
        throwaway.grad = gn.tensor(np.ones(8, np.float32))
        gn.optim.Adam([throwaway], lr=1e-3).step()


class TorchRunner(Runner):
    """The workload in PyTorch: the twin, with the weights glassnet wrote to ``weights_path``."""

    def __init__(self, work, weights_path):
        import torch
        from torch_twins import twin_from_state

        super().__init__(work)
        self.torch = torch
        with np.load(weights_path) as state:
            self.model = twin_from_state(work["model"], dict(state), *builder_args(work), **work["options"])
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.model.train()
        self.no_grad = torch.no_grad

    def info(self):
        return {"version": self.torch.__version__}

    def set_threads(self, threads):
        self.torch.set_num_threads(threads)

    def step(self, inputs, targets):
        torch = self.torch
        logits = self.model(torch.from_numpy(inputs))
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), torch.from_numpy(targets).reshape(-1))
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()

    def forward(self, inputs):
        return self.model(self.torch.from_numpy(inputs))

    def load_code(self, inputs, targets):
        torch = self.torch
        logits = self.model(torch.from_numpy(inputs))
        torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), torch.from_numpy(targets).reshape(-1)).backward()
        for parameter in self.model.parameters():
            parameter.grad = None
        throwaway = torch.nn.Parameter(torch.zeros(8))
        throwaway.grad = torch.ones(8)
        torch.optim.Adam([throwaway], lr=1e-3).step()


def check_alone(framework):
    """Fail if this child has imported the other framework."""
    other = "torch" if framework == "glassnet" else "glassnet"
    if other in sys.modules:
        raise RuntimeError(f"the {framework} child has imported {other}")


def serve(framework, work, weights_path):
    """The child's loop: build the model, say ready, then answer commands until 'quit'.
    Replies go to the real stdout; anything else printed goes to stderr."""
    replies, sys.stdout = sys.stdout, sys.stderr
    runner = (GlassnetRunner if framework == "glassnet" else TorchRunner)(work, weights_path)
    check_alone(framework)
    print(json.dumps(runner.info()), file=replies, flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        operation = command.pop("op")
        if operation == "quit":
            break
        reply = getattr(runner, operation)(**command)
        check_alone(framework)
        print(json.dumps(reply), file=replies, flush=True)


# -- the parent's side -------------------------------------------------------------------------


class Child:
    """The parent's end of one child process: ``ask`` sends a command and returns the reply."""

    def __init__(self, framework, work, weights_path):
        self.framework, self.work = framework, work
        self.process = subprocess.Popen([sys.executable, __file__, framework, json.dumps(work), weights_path],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.info = self._reply()

    def _reply(self):
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.framework} child ({self.work}) exited with code {self.process.wait()}")
        return json.loads(line)

    def ask(self, operation, **arguments):
        self.process.stdin.write(json.dumps({"op": operation, **arguments}) + "\n")
        self.process.stdin.flush()
        return self._reply()

    def close(self):
        if self.process.poll() is None:
            try:
                self.process.stdin.write('{"op": "quit"}\n')
                self.process.stdin.close()
                self.process.wait(timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()


@contextlib.contextmanager
def pair(work):
    """A glassnet child and a PyTorch child for ``work``, the twin holding glassnet's
    initial weights (passed through a temporary .npz file); both ended on exit."""
    children = []
    with tempfile.TemporaryDirectory() as folder:
        weights = os.path.join(folder, "initial.npz")
        try:
            for framework in FRAMEWORKS:  # glassnet first: it writes the weights
                children.append(Child(framework, work, weights))
            yield children
        finally:
            for child in children:
                child.close()


def interleaved(children, operation, repeats, pause, **arguments):
    """Ask every child for ``operation`` in turn, ``repeats`` rounds, the first child
    alternating between rounds; sleep ``pause`` seconds before every block. Returns each
    framework's replies: {framework: [reply, ...]}."""
    replies = {child.framework: [] for child in children}
    for round_ in range(repeats):
        for child in children if round_ % 2 == 0 else children[::-1]:
            time.sleep(pause)
            replies[child.framework].append(child.ask(operation, **arguments))
    return replies


if __name__ == "__main__":
    serve(sys.argv[1], json.loads(sys.argv[2]), sys.argv[3])
