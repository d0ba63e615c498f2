"""The ``nudging`` claim: one SGD step made visible, and how far a real model's weights travel."""
import io

import numpy as np
import pytest

import glassnet as gn
from glassnet.lab import nudging


def test_quick_run_shows_every_weight_nudged_by_minus_lr_times_its_gradient(lab_finding):
    finding = lab_finding("nudging")
    tiny = finding.data["tiny"]
    lr = tiny["lr"]
    assert finding.held, finding.verdict
    assert set(tiny["parameters"]) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    for name, parameter in tiny["parameters"].items():
        gradient = np.asarray(parameter["gradient"])
        assert np.all(gradient != 0), f"{name} has a weight without a gradient"
        np.testing.assert_allclose(parameter["step"], -lr * gradient, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(np.asarray(parameter["after"]) - parameter["before"], parameter["step"])
    assert tiny["loss_after"] < tiny["loss_before"]
    assert tiny["losses"][-1] < tiny["losses"][0] - 0.1  # the steps add up
    for check in tiny["gradient_checks"]:
        assert check["backprop"] == pytest.approx(check["finite_difference"], rel=1e-3, abs=1e-7)
    assert finding.figure is not None


def test_quick_run_moves_every_mlp_layer_in_small_steps_that_add_up(lab_finding):
    run = lab_finding("nudging").data["mlp_on_digits"]
    assert run["accuracy"] > run["untrained_accuracy"] + 0.5
    assert len(run["layers"]) == 3  # the MLP's three weight matrices
    for name, layer in run["layers"].items():
        travel = np.asarray(layer["travel"])
        assert len(travel) == run["steps"]
        assert layer["largest_step"] < 0.1, name
        assert travel[-1] > 10 * layer["median_step"], name
        assert travel[-1] > travel[len(travel) // 10], name  # farther at the end than early on


def test_sgd_step_is_minus_lr_times_gradient_and_lowers_the_loss():
    network = nudging.tiny_network(seed=3)
    inputs, targets = nudging.tiny_data()
    record = nudging.sgd_step(network, inputs, targets, lr=0.1)
    assert nudging.step_error(record) < 1e-7
    assert record["loss_after"] < record["loss_before"]
    weight = dict(network.named_parameters())["2.weight"].numpy()
    np.testing.assert_array_equal(weight, record["parameters"]["2.weight"]["after"])
    with pytest.raises(ValueError, match="sgd_step: the learning rate must be positive"):
        nudging.sgd_step(network, inputs, targets, lr=0)


def test_finite_differences_agree_with_backpropagation():
    network = nudging.tiny_network(seed=1)
    inputs, targets = nudging.tiny_data()
    loss = gn.nn.functional.cross_entropy(network(gn.tensor(inputs)), gn.tensor(targets))
    loss.backward()
    parameters = dict(network.named_parameters())
    for name, index in [("0.weight", (2, 1)), ("0.bias", (0,)), ("2.weight", (1, 1))]:
        estimate = nudging.finite_difference(network, inputs, targets, name, index)
        assert parameters[name].grad.numpy()[index] == pytest.approx(estimate, rel=1e-4, abs=1e-8)
    with pytest.raises(ValueError, match="no parameter '5.weight'"):
        nudging.finite_difference(network, inputs, targets, "5.weight", (0, 0))


def test_relative_distance():
    assert nudging.relative_distance(np.array([3.0, 4.0]), np.array([3.0, 4.0])) == 0.0
    assert nudging.relative_distance(np.array([0.0, 0.0]), np.array([3.0, 4.0])) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="all zero"):
        nudging.relative_distance(np.ones(2), np.zeros(2))


def test_weight_travel_records_one_value_a_step():
    gn.random.seed(0)
    model = gn.nn.Sequential(gn.nn.Linear(4, 3), gn.nn.ReLU(), gn.nn.Linear(3, 2))
    data = gn.data.TensorDataset(np.random.default_rng(0).normal(size=(40, 4)), np.arange(40) % 2)
    travel = nudging.WeightTravel()
    gn.train.fit(model, gn.data.DataLoader(data, batch_size=10), gn.optim.SGD(model.parameters(), lr=0.1),
                 epochs=2, callbacks=[travel], progress=False, out=io.StringIO())
    assert travel.names == ["0.weight", "2.weight"]
    assert len(travel.travel["0.weight"]) == 8  # 4 batches, 2 epochs
    assert travel.travel["0.weight"][0] == pytest.approx(travel.steps_moved["0.weight"][0])  # the first step is all
    assert all(value > 0 for value in travel.steps_moved["2.weight"])
    with pytest.raises(ValueError, match="no parameter 'head.weight'"):
        nudging.WeightTravel(["head.weight"]).on_train_begin(type("T", (), {"model": model})())
