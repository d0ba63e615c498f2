"""The lab's crafted-noise claim: FGSM and PGD against random noise of the same size.

The quick run attacks the lab's quickly trained CNN (Fashion-MNIST here and in CI, the
digits elsewhere); the same experiment is run on a CNN trained on the digits too, so the
assertions are checked on both data sets wherever the tests run.
"""
import json

import numpy as np
import pytest

from glassnet.lab import claims, crafted_noise


def check_direction(data):
    """What must hold on any data: crafted changes hurt more than random ones of the same
    size, more so as epsilon grows; the example is a right answer turned wrong by a change
    no larger than epsilon."""
    epsilon = np.array(data["epsilon"])
    fgsm, pgd, noise = (np.array(data[name]) for name in ("fgsm", "pgd", "noise"))
    assert epsilon[0] == 0 and fgsm[0] == pgd[0] == noise[0] == data["clean"]  # no change, no effect
    assert data["clean"] > 0.75  # a trained network, far above chance (10%)
    assert np.all(fgsm[1:] < noise[1:]) and np.all(pgd[1:] < noise[1:])
    assert np.all(np.diff(pgd) <= 0.02)  # a larger box never helps the network much
    assert noise[-1] > data["clean"] - 0.15  # random noise of the largest size barely matters
    assert pgd[-1] < noise[-1] - 0.4  # the crafted one, of the same size, breaks the network
    example = data["example"]
    assert example is not None and example["before"] == example["label"] != example["after"]
    assert example["largest_change"] <= example["epsilon"] + 1e-6
    assert 0 < example["mean_change"] < example["largest_change"]  # clipping at 0 and 1 keeps some pixels still
    assert example["noise"]["mean_change"] > 0


def test_quick_run_crafted_noise_hurts_far_more_than_random(lab_finding):
    finding = lab_finding("crafted-noise")
    data = finding.data
    assert data["dataset"] in ("fashion-mnist", "digits")
    assert data["attacked"] == 200 and data["epsilon"] == list(crafted_noise.QUICK_EPSILONS)
    check_direction(data)
    json.dumps(data)


def test_quick_verdict_is_computed_from_its_numbers(lab_finding):
    finding = lab_finding("crafted-noise")
    data = finding.data
    at = data["epsilon"].index(crafted_noise.SMALL_EPSILON)
    gaps = data["gap_below_noise"]
    assert gaps["fgsm"] == pytest.approx(data["noise"][at] - data["fgsm"][at])
    assert gaps["pgd"] == pytest.approx(data["noise"][at] - data["pgd"][at])
    assert finding.held == (min(gaps.values()) >= crafted_noise.MARGIN)
    assert "10% of the pixel range" in finding.verdict and f"{data['noise'][at]:.0%}" in finding.verdict
    assert finding.number.startswith("at ε=0.1: FGSM")


def test_quick_figure_shows_the_curve_and_the_example(lab_finding):
    figure = lab_finding("crafted-noise").figure
    curve, *images = figure.axes[:5]
    assert [line.get_label() for line in curve.get_lines()][:3] == [
        "FGSM (one gradient-sign step)", "PGD (5 steps)", "random ±ε noise (control)"]
    example = lab_finding("crafted-noise").data["example"]
    assert f"predicted {example['after']}" in images[2].get_title()
    assert "control" in images[3].get_title()


def test_the_experiment_on_a_cnn_trained_on_the_digits():
    network, name, _, test, _ = claims.trained("cnn", dataset="digits", quick=True)
    assert name == "digits"
    images, labels = crafted_noise.attack_set(test, 100)
    data = crafted_noise.experiment(network, images, labels, test.classes, (0.0, 0.1, 0.2), steps=5)
    check_direction(data)
    assert data["example"]["adversarial"] and np.shape(data["example"]["adversarial"]) == (1, 8, 8)


def test_attack_set_is_a_seeded_sample_of_the_test_images():
    test = claims.image_data("digits")[2]
    images, labels = crafted_noise.attack_set(test, 50, seed=3)
    again, _ = crafted_noise.attack_set(test, 50, seed=3)
    assert images.shape == (50, 1, 8, 8) and images.dtype == np.float32 and labels.dtype == np.int64
    assert np.array_equal(images, again) and not np.array_equal(images, crafted_noise.attack_set(test, 50, 4)[0])


def test_judge_on_known_accuracies():
    data = {"epsilon": [0.0, 0.05, 0.1], "small_epsilon": 0.1,
            "fgsm": [0.9, 0.6, 0.5], "pgd": [0.9, 0.4, 0.1], "noise": [0.9, 0.9, 0.85]}
    judged = crafted_noise.judge(data)
    assert judged["at_small_epsilon"] == {"fgsm": 0.5, "pgd": 0.1, "noise": 0.85}
    assert judged["gap_below_noise"] == pytest.approx({"fgsm": 0.35, "pgd": 0.75})
    assert judged["held"]
    data["fgsm"][2] = 0.7  # FGSM only 15 points below the noise: not "far below"
    assert not crafted_noise.judge(data)["held"]
    data.update(judged, held=False, clean=0.9, example=None, at_small_epsilon={"fgsm": 0.7, "pgd": 0.1, "noise": 0.85})
    assert crafted_noise.verdict(data).startswith("at a change of at most 10% of the pixel range")


def test_size_in_words_and_a_small_epsilon_that_is_not_measured():
    assert crafted_noise.size_in_words(0.05) == "5% of the pixel range (13 of 255 grey levels)"
    with pytest.raises(ValueError, match="small_epsilon 0.1 must be one of the epsilons"):
        crafted_noise.experiment(None, np.zeros((1, 1, 8, 8), np.float32), np.zeros(1, np.int64), ["0"], (0.0, 0.2))
