"""The learning-rate range test: its schedule, its early stop, the state it puts back, what it
suggests on real data, its plot and its command."""
import io

import numpy as np
import pytest

import glassnet as gn
from glassnet import cli, nn
from glassnet.data import DataLoader, TensorDataset
from glassnet.data.registry import load_dataset
from glassnet.nn import functional as F
from glassnet.train import evaluate, fit, lr_find
from glassnet.train.lr_find import LRFindResult


def blobs(n=96, features=6, classes=3, seed=0):
    """Three well-separated Gaussian clusters: a task a tiny network learns in a few steps."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    centres = rng.normal(0, 3, (classes, features))
    return TensorDataset(centres[labels] + rng.normal(0, 1, (n, features)).astype(np.float32), labels)


def tiny_model():
    """Weights, batch norm's buffers and dropout's randomness: everything lr_find must put back."""
    return nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))


def setup(seed=0, batch_size=16):
    gn.random.seed(seed)
    model = tiny_model()
    optimizer = gn.optim.Adam(model.parameters(), lr=1e-2)
    loader = DataLoader(blobs(), batch_size=batch_size, shuffle=True, seed=seed)
    return model, optimizer, loader


def test_the_learning_rate_grows_exponentially_between_the_bounds_cycling_the_loader():
    model, optimizer, loader = setup()
    used = []

    def loss(logits, targets):  # what the optimizer holds while each step's loss is computed
        used.append(optimizer.param_groups[0]["lr"])
        return F.cross_entropy(logits, targets)

    result = lr_find(model, loader, optimizer, loss=loss, start_lr=1e-6, end_lr=1e-2, steps=20)
    assert len(loader) == 6 and len(result.lrs) == len(result.losses) == len(result.smoothed) == 20  # 3+ passes
    assert result.diverged_at is None
    assert result.lrs[0] == 1e-6 and result.lrs[-1] == pytest.approx(1e-2, rel=1e-12)
    ratios = result.lrs[1:] / result.lrs[:-1]
    np.testing.assert_allclose(ratios, (1e-2 / 1e-6) ** (1 / 19), rtol=1e-12)  # equal steps on a log scale
    np.testing.assert_allclose(used, result.lrs, rtol=1e-12)
    assert optimizer.param_groups[0]["lr"] == 1e-2  # and afterwards the rate it had


def test_smoothing_is_an_exponential_average_with_bias_correction():
    model, optimizer, loader = setup()
    result = lr_find(model, loader, optimizer, start_lr=1e-5, end_lr=1e-3, steps=10, smooth=0.9)
    average = 0.0
    for i, loss in enumerate(result.losses):
        average = 0.9 * average + 0.1 * loss
        assert result.smoothed[i] == pytest.approx(average / (1 - 0.9 ** (i + 1)), rel=1e-12)
    assert result.smoothed[0] == result.losses[0]  # corrected: not 0.1 of it


def test_it_stops_early_when_the_loss_diverges():
    gn.random.seed(0)
    model = nn.Linear(6, 3)
    optimizer = gn.optim.SGD(model.parameters(), lr=0.1)
    loader = DataLoader(blobs(), batch_size=16, shuffle=True, seed=0)
    result = lr_find(model, loader, optimizer, start_lr=1e-4, end_lr=1e4, steps=100)
    assert result.diverged_at is not None and len(result.lrs) < 100
    assert result.diverged_at == result.lrs[-1]
    last, before = result.smoothed[-1], result.smoothed[:-1]
    assert not last <= 4.0 * before.min()  # past four times the lowest (or NaN) ...
    assert np.all(before[1:] <= 4.0 * np.minimum.accumulate(before)[:-1])  # ... and not before


def test_a_nan_loss_stops_it_at_once():
    model, optimizer, loader = setup()
    calls = []

    def loss(logits, targets):
        calls.append(1)
        value = F.cross_entropy(logits, targets)
        return value * float("nan") if len(calls) == 5 else value

    result = lr_find(model, loader, optimizer, loss=loss, start_lr=1e-5, end_lr=1e-3, steps=50)
    assert len(result.lrs) == 5 and np.isnan(result.losses[-1]) and result.diverged_at == result.lrs[-1]


def test_a_loss_that_is_never_a_number_is_a_clear_error():
    model, optimizer, loader = setup()
    before = state_of(model, optimizer)

    def loss(logits, targets):
        return F.cross_entropy(logits, targets) * float("nan")

    with pytest.raises(FloatingPointError, match="lr_find: the loss was nan at the first step, at lr 1e-07"):
        lr_find(model, loader, optimizer, loss=loss)
    assert_same(before, state_of(model, optimizer))


def state_of(model, optimizer):
    """Copies of everything lr_find may touch."""
    return {
        "model": {name: array.copy() for name, array in model.state_dict().items()},
        "grads": [None if p.grad is None else p.grad.numpy().copy() for p in model.parameters()],
        "modes": [module.training for module in model.modules()],
        "optimizer": optimizer.state_dict(),
        "lrs": [group["lr"] for group in optimizer.param_groups],
        "random": gn.random.generator().bit_generator.state,
    }


def assert_same(before, after):
    assert before["model"].keys() == after["model"].keys()
    for name in before["model"]:  # bit for bit, dtype included
        a, b = before["model"][name], after["model"][name]
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name
    for a, b in zip(before["grads"], after["grads"]):
        assert (a is None and b is None) or a.tobytes() == b.tobytes()
    assert before["modes"] == after["modes"] and before["lrs"] == after["lrs"]
    assert before["optimizer"]["param_groups"] == after["optimizer"]["param_groups"]
    states = before["optimizer"]["state"], after["optimizer"]["state"]
    assert states[0].keys() == states[1].keys()
    for index in states[0]:
        for key, value in states[0][index].items():
            assert np.array_equal(value, states[1][index][key]), (index, key)
    assert before["random"] == after["random"]


def test_everything_is_put_back_exactly():
    model, optimizer, loader = setup()
    fit(model, loader, optimizer, epochs=1, progress=False, out=io.StringIO())  # state worth keeping: moments, stats
    model.eval()
    model[3].train()  # a mix of modes, to see each put back
    before = state_of(model, optimizer)
    assert before["optimizer"]["state"] and int(before["model"]["1.num_batches_tracked"]) == 6
    result = lr_find(model, loader, optimizer, start_lr=1e-4, end_lr=10, steps=30)
    assert len(result.lrs) >= 2
    assert_same(before, state_of(model, optimizer))


def test_everything_is_put_back_even_when_it_fails_midway():
    model, optimizer, loader = setup()
    before = state_of(model, optimizer)
    calls = []

    def loss(logits, targets):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("a loss that fails")
        return F.cross_entropy(logits, targets)

    with pytest.raises(RuntimeError, match="a loss that fails"):
        lr_find(model, loader, optimizer, loss=loss)
    assert_same(before, state_of(model, optimizer))


class Wrapped:
    """A loader around a loader, as the command line's augmentation is."""

    def __init__(self, loader):
        self.loader = loader

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        return iter(self.loader)


@pytest.mark.parametrize("wrap", [False, True])
def test_training_after_lr_find_is_training_without_it(wrap):
    """Same weights, same dropout masks, same shuffling: the range test leaves no trace."""
    finals = []
    for look_first in (False, True):
        model, optimizer, loader = setup(seed=3)
        loader = Wrapped(loader) if wrap else loader
        if look_first:
            lr_find(model, loader, optimizer, start_lr=1e-5, end_lr=10, steps=25)
        history = fit(model, loader, optimizer, epochs=2, progress=False, out=io.StringIO())
        finals.append(([p.numpy().copy() for p in model.parameters()], history["train_loss"]))
    (weights, losses), (weights_after, losses_after) = finals
    assert losses == losses_after
    assert all(a.tobytes() == b.tobytes() for a, b in zip(weights, weights_after))


@pytest.fixture(scope="module")
def digits_mlp():
    """The range test of an MLP with Adam on digits, and the data (the test's own scale: ~1 s)."""
    train_set, test_set = load_dataset("digits", "train"), load_dataset("digits", "test")
    gn.random.seed(0)
    model = gn.models.mlp(train_set.images.shape[1:], 10)
    loader = DataLoader(train_set, batch_size=64, shuffle=True, seed=0)
    result = lr_find(model, loader, gn.optim.Adam(model.parameters()))
    return result, train_set, test_set


def test_the_suggestion_for_an_mlp_on_digits_with_adam_is_sensible_and_trains(digits_mlp):
    result, train_set, test_set = digits_mlp
    assert 1e-4 < result.suggestion < 1e-1 and result.rule == "minimum/10"
    assert 1e-4 < result.suggest("steepest") < 1e-1
    assert result.diverged_at is not None  # Adam at lr 1 and above: the loss blows up
    gn.random.seed(0)
    model = gn.models.mlp(train_set.images.shape[1:], 10)
    loader = DataLoader(train_set, batch_size=64, shuffle=True, seed=0)
    fit(model, loader, gn.optim.Adam(model.parameters(), lr=result.suggestion), epochs=3, progress=False,
        out=io.StringIO())
    assert evaluate(model, test_set)["acc"] > 0.90  # three epochs at the suggestion


def test_the_two_rules_read_the_curve_as_documented():
    lrs = np.geomspace(1e-4, 1, 5)
    smoothed = [2.3, 2.2, 1.0, 0.8, 3.0]  # falls fastest into 1e-2, lowest at 1e-1
    result = LRFindResult(lrs, smoothed, smoothed, 1e-4, 1, 5, diverged_at=1.0)
    assert result.suggestion == pytest.approx(1e-2) and result.suggest("minimum/10") == result.suggestion
    assert result.suggest("steepest") == pytest.approx(1e-2)
    smoothed = [2.3, 1.0, 0.9, 0.8, 0.7]
    result = LRFindResult(lrs, smoothed, smoothed, 1e-4, 1, 5)
    assert result.suggestion == pytest.approx(0.1) and result.suggest("steepest") == pytest.approx(1e-4)
    with pytest.raises(ValueError, match="rule must be one of 'minimum/10', 'steepest', got 'valley'"):
        result.suggest("valley")


def test_the_plot_has_a_log_x_axis_and_marks_the_suggestion(digits_mlp):
    from matplotlib.figure import Figure

    result = digits_mlp[0]
    fig = result.plot()
    assert isinstance(fig, Figure)
    (axis,) = fig.axes
    assert axis.get_xscale() == "log"
    marks = [line for line in axis.get_lines() if list(line.get_xdata()) == [result.suggestion] * 2]
    assert marks, "no vertical line at the suggestion"
    assert "suggestion" in " ".join(text.get_text() for text in axis.get_legend().get_texts())
    assert axis.get_ylim()[1] < 10  # the explosion at the end does not squash the curve
    assert gn.inspect.to_png(fig)[1:4] == b"PNG"
    fig, axes = gn.inspect.plots.figure(8, 3, ncols=2)  # or on axes of a figure of one's own
    assert result.plot(ax=axes[1]) is fig and axes[1].get_xscale() == "log" and not axes[0].get_lines()


@pytest.mark.parametrize("options, error, message", [
    ({"start_lr": 1.0, "end_lr": 1.0}, ValueError, "lr_find: needs 0 < start_lr < end_lr, got start_lr=1, end_lr=1"),
    ({"start_lr": 1e-2, "end_lr": 1e-3}, ValueError, "needs 0 < start_lr < end_lr"),
    ({"start_lr": 0.0}, ValueError, "needs 0 < start_lr < end_lr"),
    ({"steps": 1}, ValueError, "lr_find: steps must be at least 2 .* got 1"),
    ({"steps": 10.0}, TypeError, "lr_find: steps must be a whole number, got 10.0"),
    ({"end_lr": "10"}, TypeError, "lr_find: end_lr must be a number, got '10'"),
    ({"smooth": 1.0}, ValueError, r"lr_find: smooth must be in \[0, 1\), got 1.0"),
    ({"diverge": 1.0}, ValueError, "lr_find: diverge must be above 1"),
])
def test_bad_arguments_are_clear_errors(options, error, message):
    model, optimizer, loader = setup()
    before = state_of(model, optimizer)
    with pytest.raises(error, match=message):
        lr_find(model, loader, optimizer, **options)
    assert_same(before, state_of(model, optimizer))


def test_an_empty_loader_is_a_clear_error():
    model, optimizer, _ = setup()
    empty = DataLoader(TensorDataset(np.zeros((0, 6), np.float32), np.zeros(0, np.int64)), batch_size=4)
    with pytest.raises(ValueError, match="lr_find: the loader gave no batches"):
        lr_find(model, empty, optimizer)


def test_the_command_prints_the_suggestion_and_writes_the_png(tmp_path, capsys):
    out = tmp_path / "plots" / "lr.png"
    assert cli.main(["lr-find", "--model", "cnn", "--dataset", "digits", "--steps", "40", "--batch-size", "32",
                     "--start-lr", "1e-6", "--end-lr", "10", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "lr-find for cnn" in printed and "40 steps from lr 1e-06 to 10" in printed
    suggested = float(printed.split("suggested learning rate: ")[1].split()[0])
    assert 1e-6 < suggested < 10 and "(minimum/10:" in printed and "by the steepest rule" in printed
    assert "tried 1e-06 to" in printed
    assert out.read_bytes()[1:4] == b"PNG" and f"wrote {out}" in printed


def exit_code(argv):
    """What ``glassnet ARGV`` exits with: argparse's own errors leave through SystemExit."""
    try:
        return cli.main(argv)
    except SystemExit as exit:
        return exit.code


@pytest.mark.parametrize("argv, code, message", [
    (["--start-lr", "1", "--end-lr", "0.1"], 1, "--start-lr must be above 0 and below --end-lr"),
    (["--steps", "1"], 2, "argument --steps: must be at least 2, got 1"),
    (["--model", "gpt"], 2, "argument --model: invalid choice: 'gpt'"),
    (["--out", "."], 1, "--out . is a folder; give a file in it"),
])
def test_the_command_refuses_bad_arguments_in_one_line(argv, code, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert exit_code(["lr-find", *argv]) == code
    err = capsys.readouterr().err
    assert err.startswith("glassnet: error:") and message in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # nothing written
