"""The black-box claim: attribution maps, put to the deletion test."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.inspect import attribution
from glassnet.lab import black_box, claims


def check_direction(finding):
    data = finding.data
    curves, faster = data["curves"], data["speedup"]
    assert data["fractions"][0] == 0 and set(curves) == {*black_box.METHODS, black_box.RANDOM, black_box.OBJECT}
    start = curves[black_box.RANDOM]["probability"][0]
    assert all(curve["probability"][0] == pytest.approx(start) for curve in curves.values())  # nothing deleted yet
    random_curve = curves[black_box.RANDOM]["probability"]
    assert random_curve[-1] < start  # deleting half the pixels at random hurts a little
    # integrated gradients' top pixels matter much more than random ones; saliency's more too
    assert faster["integrated gradients"] > 1.5 and faster["saliency"] > 1.05
    ig_curve = curves["integrated gradients"]["probability"]
    assert ig_curve[black_box.FRACTIONS.index(0.2)] < random_curve[black_box.FRACTIONS.index(0.2)] - 0.15
    assert finding.held and data["beats_random"]["integrated gradients"]
    assert data["integrated_gradients"]["completeness_gap_median"] < 0.02


def test_quick_run_attributions_beat_random_deletion(lab_finding):
    finding = lab_finding("black-box")
    check_direction(finding)
    assert finding.figure is not None and len(finding.figure.axes) >= 20  # 4 rows of maps, 2 curve panels
    assert "top 10%" in finding.number and finding.verdict


def test_the_claim_holds_on_the_digits_too(lab_on_digits):
    finding = black_box.run(quick=True, seed=0)
    assert finding.data["dataset"] == "digits"
    check_direction(finding)


def test_integrated_gradients_add_up_to_the_rise_of_the_score(lab_on_digits):
    """Completeness: the attributions sum to score(image) - score(black), for the trained cnn."""
    network, _, _, test, _ = claims.trained("cnn", quick=True, seed=0)  # as the claim asks: cached
    images, labels = test.images[:12], np.asarray(test.labels[:12])
    found = attribution.integrated_gradients(network, images, labels, steps=64)
    logits, black = gn.train.predict(network, images), gn.train.predict(network, np.zeros_like(images))
    rows = np.arange(len(labels))
    rise = logits[rows, labels] - black[rows, labels]
    np.testing.assert_allclose(found.reshape(len(images), -1).sum(axis=1), rise, rtol=0.02, atol=0.02)
    gaps = black_box.completeness_gap(network, images, labels, found)
    assert gaps.shape == (12,) and np.median(gaps) < 0.01
    few = black_box.completeness_gap(network, images, labels,
                                     attribution.integrated_gradients(network, images, labels, steps=2))
    assert np.median(few) > np.median(gaps)  # a coarser path adds up less well


def test_delete_top_blacks_out_the_highest_scored_pixels():
    images = np.arange(1, 17, dtype=np.float32).reshape(1, 1, 4, 4)
    scores = np.arange(16, dtype=float).reshape(1, 4, 4)  # the bottom-right pixels score highest
    out = black_box.delete_top(images, scores, 0.25)
    assert out[0, 0, 3].tolist() == [0, 0, 0, 0] and out[0, 0, :3].tolist() == images[0, 0, :3].tolist()
    assert black_box.delete_top(images, scores, 0.0).tolist() == images.tolist()
    assert (black_box.delete_top(images, scores, 1.0) == 0).all()
    colour = np.ones((2, 3, 4, 4), dtype=np.float32)  # every channel of a deleted pixel goes black
    deleted = black_box.delete_top(colour, np.random.default_rng(0).random((2, 4, 4)), 0.5)
    assert (deleted == 0).all(axis=1).sum() == 16 and ((deleted == 0).any(axis=1) == (deleted == 0).all(axis=1)).all()
    # ties are broken at random with a generator, so a flat map deletes scattered pixels, not the first rows
    flat = black_box.delete_top(np.ones((1, 1, 8, 8)), np.zeros((1, 8, 8)), 0.25, np.random.default_rng(0))
    assert (flat[0, 0, :2] == 0).sum() < 16
    with pytest.raises(ValueError, match="delete_top"):
        black_box.delete_top(images, scores[:, :2], 0.1)
    with pytest.raises(ValueError, match="fraction"):
        black_box.delete_top(images, scores, 1.5)


def test_deletion_curve_of_a_network_that_reads_one_pixel():
    """A linear 'network' whose class-1 score is pixel (0, 0): deleting that pixel first
    sinks class 1 at once; a map that ranks it last leaves it until the end."""
    network = gn.nn.Sequential(gn.nn.Flatten(), gn.nn.Linear(4, 2))
    weight = np.zeros((2, 4), dtype=np.float32)
    weight[1, 0] = 10.0
    network.load_state_dict({"1.weight": weight, "1.bias": np.array([5.0, 0.0], dtype=np.float32)})
    images = np.ones((3, 1, 2, 2), dtype=np.float32)
    labels = np.ones(3, dtype=np.int64)
    right_map = np.tile(np.array([[1.0, 0.0], [0.0, 0.0]]), (3, 1, 1))
    probabilities, accuracies = black_box.deletion_curve(network, images, labels, right_map, (0.0, 0.25, 0.5))
    assert probabilities[0] > 0.99 and probabilities[1] < 0.01 and accuracies == [1.0, 0.0, 0.0]
    wrong_map = 1 - right_map
    probabilities, _ = black_box.deletion_curve(network, images, labels, wrong_map, (0.0, 0.25, 0.5))
    assert min(probabilities) > 0.99


def test_the_verdict_says_which_map_failed():
    held = black_box._verdict({"saliency": 1.3, "integrated gradients": 2.3, "grad-cam": 0.7}, True)
    assert "grad-cam did no better than random" in held
    weak = black_box._verdict({"saliency": 1.1, "integrated gradients": 1.2, "grad-cam": 0.9}, False)
    assert weak.startswith("not here") and "short of the 1.5x" in weak
    lonely = black_box._verdict({"saliency": 0.9, "integrated gradients": 2.0, "grad-cam": 0.8}, False)
    assert "most maps did no better" in lonely and "saliency and grad-cam" in lonely


def test_speedups_and_background_share():
    curves = {"good": {"probability": [0.8, 0.5, 0.3]}, "bad": {"probability": [0.8, 0.8, 0.7]},
              black_box.RANDOM: {"probability": [0.8, 0.7, 0.5]}}
    assert black_box.speedups(curves, ["good", "bad"]) == {"good": pytest.approx(2.0), "bad": pytest.approx(0.25)}
    with pytest.raises(ValueError, match="random"):
        black_box.speedups({"a": {"probability": [0.5, 0.5]}, black_box.RANDOM: {"probability": [0.5, 0.6]}}, ["a"])
    images = np.zeros((1, 1, 2, 2))
    images[0, 0, 0] = 1.0  # the top row is the object, the bottom row background
    on_object = np.array([[[1.0, 0.9], [0.0, 0.1]]])
    assert black_box.background_share(images, on_object, 0.5) == 0.0
    assert black_box.background_share(images, 1 - on_object, 0.5) == 1.0
