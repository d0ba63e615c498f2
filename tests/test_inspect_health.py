"""inspect.health and the per-step hooks of the training loop: the hooks fire once per step
with the gradients in place; HealthMonitor records every layer of a network trained on
the 8x8 digits, saves plain JSON and reads it back equal; dead units and vanishing
gradients are caught on networks built to have them."""
import io
import json
import math

import matplotlib.image
import numpy as np
import pytest

import glassnet as gn
from glassnet import nn
from glassnet.data import DataLoader
from glassnet.inspect import plots
from glassnet.inspect.health import (HealthMonitor, dead_fraction, health_path_for, load_health, plot_dead_units,
                                     plot_gradient_norms, plot_histograms)
from glassnet.inspect.hints import diagnose

BATCH = 32


@pytest.fixture(scope="module")
def digits():
    return gn.datasets.digits("train"), gn.datasets.digits("test")


def steps_per_epoch(digits):
    return math.ceil(len(digits[0]) / BATCH)


def train(model, digits, epochs=1, callbacks=(), optimizer=None, **options):
    gn.seed(0)
    optimizer = optimizer or gn.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(digits[0], batch_size=BATCH, shuffle=True, seed=0)
    return gn.train.fit(model, loader, optimizer, epochs=epochs, val=digits[1], callbacks=callbacks,
                        progress=False, out=io.StringIO(), **options)


def small_cnn():
    gn.seed(0)
    return gn.models.cnn((1, 8, 8), 10, channels=(8, 16), hidden=32)


def decode(fig):
    return matplotlib.image.imread(io.BytesIO(plots.to_png(fig)))


# -- the hooks of the loop ------------------------------------------------------------------

class Recorder(gn.train.Callback):
    """Remembers what each per-step hook saw."""

    def __init__(self):
        self.after_backward, self.batch_end = [], []

    def on_after_backward(self, trainer, step):
        grads = [p.grad for p in trainer.model.parameters()]
        assert all(g is not None for g in grads), "on_after_backward ran before every parameter had a gradient"
        first = next(trainer.model.parameters())
        norm = math.sqrt(sum(float((g ** 2).sum()) for g in grads))
        self.after_backward.append((step, trainer.epoch, norm, first.numpy().copy()))

    def on_batch_end(self, trainer, step, logs):
        first = next(trainer.model.parameters())
        size = len(logs["targets"])
        self.batch_end.append((step, logs["epoch"], logs["batch"], logs["loss"], size, first.numpy().copy()))


def test_step_hooks_fire_once_per_step_with_raw_gradients_then_after_the_update(digits):
    recorder = Recorder()
    model = gn.models.mlp((1, 8, 8), 10)
    history = train(model, digits, epochs=2, callbacks=[recorder], clip_grad_norm=1e-3)
    n = steps_per_epoch(digits)
    assert [step for step, *_ in recorder.after_backward] == list(range(1, 2 * n + 1))
    assert [step for step, *_ in recorder.batch_end] == list(range(1, 2 * n + 1))
    assert [epoch for _, epoch, *_ in recorder.after_backward] == [1] * n + [2] * n
    assert [batch for _, _, batch, *_ in recorder.batch_end] == list(range(1, n + 1)) * 2
    # the gradients are seen before clipping shrinks them to a norm of 1e-3
    assert min(norm for _, _, norm, _ in recorder.after_backward) > 1e-2
    # on_batch_end comes after the optimizer step: the weights have moved since the backward
    for (_, _, _, before), (*_, after) in zip(recorder.after_backward, recorder.batch_end):
        assert not np.array_equal(before, after)
    assert [loss for _, _, _, loss, _, _ in recorder.batch_end] == history["step_losses"][0] + history["step_losses"][1]
    assert sum(size for *_, size, _ in recorder.batch_end) == 2 * len(digits[0])


def test_epoch_callbacks_are_not_called_per_step(digits):
    class EpochsOnly(gn.train.Callback):
        epochs = 0

        def on_epoch_end(self, trainer, epoch, logs):
            self.epochs += 1

    watcher = EpochsOnly()
    watcher.on_batch_end = watcher.on_after_backward = None  # would fail if the loop called them
    train(gn.models.mlp((1, 8, 8), 10), digits, epochs=1, callbacks=[watcher])
    assert watcher.epochs == 1


# -- the monitor on a healthy network ---------------------------------------------------------

@pytest.fixture(scope="module")
def monitored(digits, tmp_path_factory):
    """(model, history, monitor, first-step gradient norms per layer, checkpoint path) of a small
    CNN trained 4 epochs on the digits with a HealthMonitor."""
    class FirstGradients(gn.train.Callback):
        norms = None

        def on_after_backward(self, trainer, step):
            if step == 1:
                self.norms = {}
                for name, module in trainer.model.named_modules():
                    grads = [p.grad.astype(np.float64) for p in module.parameters(recurse=False)]
                    if grads:
                        self.norms[name] = math.sqrt(sum(float((g ** 2).sum()) for g in grads))

    model, first, monitor = small_cnn(), FirstGradients(), HealthMonitor(every=5, bins=20)
    path = tmp_path_factory.mktemp("health") / "model.safetensors"
    history = train(model, digits, epochs=4, callbacks=[first, monitor], save_path=str(path))
    return model, history, monitor, first.norms, path


def test_monitor_records_every_layer(monitored, digits):
    model, _, monitor, first_norms, _ = monitored
    health = monitor.health
    with_parameters = {name: type(m).__name__ for name, m in model.named_modules() if list(m.parameters(recurse=False))}
    assert health["layers"] == with_parameters == {"0": "Conv2d", "1": "BatchNorm2d", "4": "Conv2d", "5": "BatchNorm2d",
                                                   "10": "Linear", "13": "Linear"}
    assert list(health["activation_layers"]) == ["0", "1", "2", "4", "5", "6", "10", "11", "13"]  # and the ReLUs
    steps = 4 * steps_per_epoch(digits)
    record = health["gradient_norms"]
    assert record["step"] == list(range(1, steps + 1, 5))
    for name in with_parameters:
        assert len(record["norm"][name]) == len(record["step"])
        assert record["norm"][name][0] == pytest.approx(first_norms[name], rel=1e-6)  # the raw gradient of step 1
    modules = dict(model.named_modules())
    for name in with_parameters:
        weight = modules[name].weight.numpy().astype(np.float64)
        assert health["weights"]["epoch"] == [1, 2, 3, 4]
        assert health["weights"]["norm"][name][-1] == pytest.approx(np.linalg.norm(weight), rel=1e-9)
        assert health["weights"]["mean"][name][-1] == pytest.approx(weight.mean(), rel=1e-9, abs=1e-12)
        assert health["weights"]["std"][name][-1] == pytest.approx(weight.std(), rel=1e-9)
    activations = health["activations"]
    assert activations["epoch"] == [1, 2, 3, 4] and activations["sample_size"] == BATCH
    assert all(len(activations["mean"][name]) == 4 for name in health["activation_layers"])
    assert list(activations["dead"]) == ["2", "6", "11"] and activations["units"] == {"2": 8, "6": 16, "11": 32}
    assert all(0 <= fraction < 0.5 for fractions in activations["dead"].values() for fraction in fractions)


def test_histograms_at_the_first_middle_and_last_epochs(monitored):
    model, _, monitor, _, _ = monitored
    histograms = monitor.health["histograms"]
    assert [entry["epoch"] for entry in histograms] == [1, 2, 4]
    modules = dict(model.named_modules())
    for entry in histograms:
        for name in monitor.health["layers"]:
            size = modules[name].weight.numel()
            for kind in ("weights", "gradients"):
                assert len(entry[kind][name]["counts"]) == 20 and len(entry[kind][name]["edges"]) == 21
                assert sum(entry[kind][name]["counts"]) == size
        # outputs of the 32 sample images: 8 channels of 8x8 after the first convolution
        assert sum(entry["activations"]["0"]["counts"]) == 32 * 8 * 8 * 8
        assert sum(entry["activations"]["11"]["counts"]) == 32 * 32


def test_health_is_saved_as_json_next_to_the_checkpoint_and_reloads_equal(monitored):
    _, _, monitor, _, path = monitored
    saved = health_path_for(path)
    assert saved == str(path.parent / "health.json")
    with open(saved) as stream:
        json.load(stream, parse_constant=lambda name: pytest.fail(f"{name} is not plain JSON"))
    assert load_health(saved) == monitor.health
    assert load_health(str(path.parent)) == monitor.health  # the run folder will do
    with pytest.raises(FileNotFoundError, match="HealthMonitor"):
        load_health(str(path.parent / "missing.json"))


def test_a_healthy_run_gets_no_hints(monitored):
    _, history, monitor, _, _ = monitored
    assert diagnose(history, monitor.health, num_classes=10) == []


def test_plots_decode_to_images(monitored):
    health = monitored[2].health
    def two_layers(health):  # a full grid takes a second or two to draw
        return plot_histograms(health, layers=["0", "13"])

    for plot, least in ((plot_gradient_norms, (250, 500)), (plot_dead_units, (250, 400)), (two_layers, (400, 700))):
        image = decode(plot(health))
        assert image.ndim == 3 and image.shape[2] in (3, 4)
        assert image.shape[0] >= least[0] and image.shape[1] >= least[1]
        assert image[..., :3].std() > 0.05  # something is drawn
    fig = plot_histograms(health)
    assert len(fig.axes) == 6 * 3  # a row per layer, a column per kind
    titles = [axis.get_title() for axis in fig.axes[:3]]
    assert titles == ["0 (Conv2d): weights", "0 (Conv2d): gradients", "0 (Conv2d): outputs"]
    assert [text.get_text() for text in fig.axes[0].get_legend().get_texts()] == ["epoch 1", "epoch 2", "epoch 4"]
    fig = plot_gradient_norms(health)
    assert fig.axes[0].get_yscale() == "log" and "Gradient norm" in fig.axes[0].get_title()
    assert [text.get_text() for text in fig.axes[0].get_legend().get_texts()][0] == "0 (Conv2d)"


# -- networks built to be sick ------------------------------------------------------------------

def test_dead_fraction_counts_units_that_are_zero_for_every_example():
    images = np.ones((4, 3, 2, 2))
    images[:, 1] = 0  # channel 1 is zero everywhere for every image: dead
    images[0, 2] = 0
    images[1:, 2, 0, 0] = 0  # channel 2 is alive in one pixel of three images
    assert dead_fraction(images) == pytest.approx(1 / 3)
    features = np.array([[0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 2.0]])
    assert dead_fraction(features) == 0.5
    assert dead_fraction(np.zeros((2, 5, 6))) == 1.0  # (N, T, D): D units


def test_a_relu_layer_with_a_very_negative_bias_is_reported_dead(digits):
    gn.seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 10))
    model[1].bias.data[:] = -100.0  # no digit pixel (0..1) can lift a unit above zero
    # The second layer sees only zeros, so its outputs are its biases: half dead, half alive.
    model[3].bias.data[:16], model[3].bias.data[16:] = -100.0, 5.0
    monitor = HealthMonitor(every=10, sample=digits[1].images[:100])
    history = train(model, digits, epochs=1, callbacks=[monitor], optimizer=gn.optim.SGD(model.parameters(), lr=0.01))
    dead = monitor.health["activations"]["dead"]
    assert dead["2"] == [1.0]
    assert dead["4"] == [0.5]
    assert monitor.health["activations"]["sample_size"] == 100
    hints = [hint for hint in diagnose(history, monitor.health) if hint.name == "dead_relu_units"]
    assert [hint.evidence["layer"] for hint in hints] == ["2", "4"]
    assert "100% of the units (16 of 16) of ReLU layer 2" in hints[0].message
    assert "50% of the units (16 of 32) of ReLU layer 4" in hints[1].message
    decode(plot_dead_units(monitor.health))


def test_vanishing_gradients_in_a_deep_sigmoid_network(digits):
    gn.seed(0)
    layers, width = [nn.Flatten()], 64
    for _ in range(6):
        layers += [nn.Linear(width, 32), nn.Sigmoid()]
        width = 32
    model = nn.Sequential(*layers, nn.Linear(32, 10))
    monitor = HealthMonitor(every=5)
    history = train(model, digits, epochs=1, callbacks=[monitor], optimizer=gn.optim.SGD(model.parameters(), lr=0.1))
    hints = diagnose(history, monitor.health)
    assert [hint.name for hint in hints] == ["vanishing_gradients"]
    evidence = hints[0].evidence
    assert evidence["first_layer"] == "1" and evidence["last_layer"] == "13"
    assert evidence["ratio"] < 1e-3
    assert "first layer 1 (Linear)" in hints[0].message and "last layer's 13 (Linear)" in hints[0].message
    norms = monitor.health["gradient_norms"]["norm"]
    medians = [np.median(norms[name]) for name in monitor.health["layers"]]
    assert medians == sorted(medians)  # each layer back from the loss gets less


def test_the_monitor_rejects_a_bad_interval():
    with pytest.raises(ValueError, match="every"):
        HealthMonitor(every=0)
