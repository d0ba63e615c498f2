"""The ``accuracy-climb`` claim: from chance before training, far above it after one pass."""
import io

import pytest

import glassnet as gn
from glassnet.data import load_dataset
from glassnet.lab import accuracy_climb


def test_quick_run_climbs_from_chance_on_the_digits(lab_finding):
    finding = lab_finding("accuracy-climb")
    digits = finding.data["digits"]
    assert finding.held, finding.verdict
    assert set(digits["runs"]) == {"mlp", "cnn"}
    for model, run in digits["runs"].items():
        assert abs(run["untrained"] - 0.1) <= 0.1, model  # ten classes: chance is 10%
        assert run["accuracy"][0] == run["untrained"] and run["steps"][0] == 0
        assert run["one_pass"] > run["untrained"] + 0.5, model  # one pass: far above chance
        assert run["one_pass"] == run["accuracy"][-1]  # the first pass's last point is epoch 1
        assert len(run["per_epoch"]) == digits["epochs"] + 1
        assert run["images"][-1] == digits["train_size"]
    assert digits["runs"]["cnn"]["one_pass"] >= 0.75  # the well-designed network
    assert digits["best_after_several"] >= digits["best_one_pass"] - 0.02
    assert finding.figure is not None


def test_checkpoints_are_dense_early_and_end_at_the_pass():
    assert accuracy_climb.checkpoints(45) == sorted(set(accuracy_climb.checkpoints(45)))
    points = accuracy_climb.checkpoints(45)
    assert points[0] == 0 and points[-1] == 45 and 1 in points
    assert points[2] - points[1] <= points[-1] - points[-2]
    assert accuracy_climb.checkpoints(1) == [0, 1]
    with pytest.raises(ValueError, match="checkpoints: a pass needs at least one step"):
        accuracy_climb.checkpoints(0)


def test_accuracy_probe_scores_at_the_chosen_steps_and_every_epoch():
    test = load_dataset("digits", "test")
    gn.random.seed(0)
    model = gn.models.mlp((1, 8, 8), 10)
    probe = accuracy_climb.AccuracyProbe(test, at=[0, 2, 5])
    train = gn.data.TensorDataset(test.images[:100], test.labels[:100])
    gn.train.fit(model, gn.data.DataLoader(train, batch_size=20), gn.optim.Adam(model.parameters(), lr=1e-2),
                 epochs=2, callbacks=[probe], progress=False, out=io.StringIO())
    assert [step for step, _ in probe.first_pass] == [0, 2, 5]
    assert len(probe.per_epoch) == 3 and probe.per_epoch[1] == probe.first_pass[-1][1]
    assert probe.per_epoch[-1] == pytest.approx(gn.train.evaluate(model, test)["acc"])


def test_judge_follows_the_stated_criterion():
    def run(untrained, one_pass, final):
        return {"untrained": untrained, "one_pass": one_pass, "final": final, "best": max(one_pass, final)}

    climbed = accuracy_climb.judge([run(0.08, 0.80, 0.90), run(0.12, 0.85, 0.86)], num_classes=10)
    assert climbed["held"] and not climbed["reached_99"] and climbed["best_one_pass"] == 0.85
    not_at_chance = accuracy_climb.judge([run(0.35, 0.80, 0.90)], num_classes=10)
    assert not not_at_chance["held"] and not not_at_chance["untrained_at_chance"]
    slow = accuracy_climb.judge([run(0.1, 0.60, 0.995)], num_classes=10)
    assert not slow["held"] and slow["reached_99"] and slow["several_passes_beat_one"]


@pytest.mark.data
def test_the_mlp_climbs_on_fashion_mnist_too():
    """The full run's second data set: one pass over 2000 Fashion-MNIST images already
    lifts the MLP far above chance, though not to the digits' level."""
    try:
        train, test = (gn.data.datasets.fashion_mnist(split, download=False) for split in ("train", "test"))
    except gn.data.DataNotFoundError:
        pytest.skip("Fashion-MNIST's files are not on this machine")
    from glassnet.lab import claims

    result = accuracy_climb.climb("mlp", claims.subset(train, 2000), claims.subset(test, 500, seed=1), epochs=2,
                                  batch_size=32)
    assert abs(result["untrained"] - 0.1) <= 0.1
    assert result["one_pass"] > 0.6 and result["final"] >= result["one_pass"] - 0.03
