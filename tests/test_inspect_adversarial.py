"""inspect.adversarial: FGSM and PGD break a CNN that is 98% right on the 8x8 digits,
while random noise of the same size barely touches it; rotations and shifts hurt too."""
import io

import matplotlib.image
import numpy as np
import pytest

import glassnet as gn
from glassnet.inspect import adversarial, errors, load_run, plots

COUNT = 200  # test images attacked: enough for stable accuracies, few enough to be quick


@pytest.fixture(scope="module")
def cnn(digits_cnn_run):
    run = load_run(digits_cnn_run)
    test = run.dataset("test")
    return run, test.images[:COUNT], test.labels[:COUNT]


@pytest.fixture(scope="module")
def curve(cnn):
    run, images, labels = cnn
    return adversarial.robustness_curve(run, images, labels, epsilons=(0.0, 0.1, 0.15), steps=10)


def accuracy(model, images, labels):
    return (errors.predict_proba(model, images).argmax(axis=1) == labels).mean()


def decode(fig):
    return matplotlib.image.imread(io.BytesIO(plots.to_png(fig)))


def test_input_gradient_of_a_linear_classifier_is_the_textbook_formula():
    # logits = W x + b, so d(cross-entropy)/dx = W^T (softmax(logits) - one_hot(label))
    gn.seed(0)
    model = gn.nn.Sequential(gn.nn.Flatten(), gn.nn.Linear(16, 3))
    images = np.random.default_rng(0).random((5, 1, 4, 4), dtype=np.float32)
    labels = np.array([0, 1, 2, 1, 0])
    weight, bias = model[1].weight.numpy(), model[1].bias.numpy()
    logits = images.reshape(5, 16) @ weight.T + bias
    softmax = np.exp(logits - logits.max(axis=1, keepdims=True))
    softmax /= softmax.sum(axis=1, keepdims=True)
    expected = (softmax - np.eye(3)[labels]) @ weight
    gradient = adversarial.input_gradient(model, images, labels, batch_size=2)
    np.testing.assert_allclose(gradient.reshape(5, 16), expected, rtol=1e-4, atol=1e-6)
    # the weights are held still: no gradient is left behind in them
    assert all(p.grad is None and p.requires_grad for p in model.parameters())


@pytest.mark.parametrize("attack", ["fgsm", "pgd"])
def test_adversarial_images_stay_within_epsilon_and_in_the_unit_range(cnn, attack):
    run, images, labels = cnn
    epsilon = 0.1
    adversarial_images = getattr(adversarial, attack)(run, images, labels, epsilon)
    assert adversarial_images.shape == images.shape and adversarial_images.dtype == np.float32
    assert np.abs(adversarial_images - images).max() <= epsilon + 1e-6
    assert adversarial_images.min() >= 0 and adversarial_images.max() <= 1
    assert not np.array_equal(adversarial_images, images)
    assert not run.model.training  # the run's model is left in eval mode


def test_fgsm_moves_every_pixel_it_can_by_exactly_epsilon(cnn):
    run, images, labels = cnn
    adversarial_images = adversarial.fgsm(run, images, labels, 0.1)
    change = np.abs(adversarial_images - images)
    # pixels not clipped at 0 or 1 move the full epsilon (or not at all, where the gradient is 0)
    free = (adversarial_images > 0) & (adversarial_images < 1)
    assert np.all(np.isclose(change[free], 0.1, atol=1e-6) | (change[free] == 0))
    assert np.isclose(change[free], 0.1, atol=1e-6).mean() > 0.5


def test_fgsm_cuts_accuracy_far_more_than_noise_of_the_same_size(curve):
    """The quality bar: a model 98% right drops to well under 80% at epsilon 0.1 and
    under 60% at 0.15, while random +-epsilon noise leaves it above 90%."""
    assert curve["clean"] > 0.95
    fgsm, noise = dict(zip(curve["epsilon"], curve["fgsm"])), dict(zip(curve["epsilon"], curve["noise"]))
    assert fgsm[0.0] == noise[0.0] == curve["clean"]
    assert fgsm[0.1] < 0.8 and fgsm[0.15] < 0.6
    assert noise[0.1] > 0.9 and noise[0.15] > 0.9
    assert noise[0.15] - fgsm[0.15] > 0.3
    assert np.all(np.diff(curve["fgsm"]) < 0)  # a bigger epsilon hurts more


def test_pgd_is_at_least_as_strong_as_fgsm(curve):
    assert curve["pgd"][0] == curve["clean"]
    assert np.all(curve["pgd"] <= curve["fgsm"] + 0.01)
    assert curve["pgd"][-1] < curve["fgsm"][-1] - 0.1  # at epsilon 0.15 clearly stronger


def test_pgd_is_reproducible_and_its_random_start_depends_on_the_seed(cnn):
    run, images, labels = cnn
    images, labels = images[:20], labels[:20]
    first = adversarial.pgd(run, images, labels, 0.1, steps=2, seed=3)
    np.testing.assert_array_equal(first, adversarial.pgd(run, images, labels, 0.1, steps=2, seed=3))
    assert not np.array_equal(first, adversarial.pgd(run, images, labels, 0.1, steps=2, seed=4))
    # one step from the image itself with step size epsilon is FGSM
    np.testing.assert_array_equal(adversarial.pgd(run, images, labels, 0.1, steps=1, step_size=0.1, random_start=False),
                                  adversarial.fgsm(run, images, labels, 0.1))


def test_the_mlp_is_brittle_too(digits_mlp_run):
    run = load_run(digits_mlp_run)
    test = run.dataset("test")
    images, labels = test.images[:COUNT], test.labels[:COUNT]
    clean = accuracy(run, images, labels)
    assert clean > 0.9
    assert accuracy(run, adversarial.fgsm(run, images, labels, 0.1), labels) < clean - 0.3
    assert accuracy(run, adversarial.random_sign_noise(images, 0.1), labels) > clean - 0.05


def test_rotate_and_shift_move_pixels_the_way_they_say():
    image = np.zeros((1, 1, 5, 5), dtype=np.float32)
    image[0, 0, 0, 2] = 1  # top middle
    np.testing.assert_array_equal(adversarial.rotate(image, 0), image)
    np.testing.assert_allclose(adversarial.rotate(image, 90)[0, 0], np.rot90(image[0, 0]), atol=1e-6)  # to the left
    right = adversarial.shift(image, 1, "x")
    assert right[0, 0, 0, 3] == 1 and right.sum() == 1
    down = adversarial.shift(image, 2, "y")
    assert down[0, 0, 2, 2] == 1 and down.sum() == 1
    assert adversarial.shift(image, -1, "y").sum() == 0  # moved out of the picture


def test_small_rotations_and_shifts_cost_accuracy(cnn):
    run, images, labels = cnn
    result = adversarial.transform_accuracy(run, images, labels, angles=(-30, 0, 30), shifts=(-2, 0, 2))
    clean = accuracy(run, images, labels)
    assert result["rotation"][1] == result["shift_x"][1] == result["shift_y"][1] == clean
    assert result["rotation"][0] < clean - 0.2 and result["rotation"][2] < clean - 0.2
    # two pixels is a quarter of an 8x8 digit
    assert np.all(result["shift_x"][[0, 2]] < clean - 0.2) and np.all(result["shift_y"][[0, 2]] < clean - 0.2)


def test_robustness_figure_has_one_line_per_attack_and_decodes(curve):
    fig = adversarial.plot_robustness(curve)
    axis = fig.axes[0]
    assert [line.get_label() for line in axis.get_lines()][:3] == [
        "FGSM (one gradient-sign step)", "PGD (projected gradient steps)", "random ±ε noise"]
    np.testing.assert_allclose(axis.get_lines()[0].get_ydata(), 100 * curve["fgsm"])
    assert "ε" in axis.get_xlabel() and "accuracy" in axis.get_ylabel() and axis.get_title()
    height, width, _ = decode(fig).shape
    assert height > 250 and width > 350


def test_adversarial_example_figure_names_both_predictions(cnn):
    run, images, labels = cnn
    index = 1
    adversarial_images = adversarial.fgsm(run, images[:4], labels[:4], 0.15)
    probabilities = errors.predict_proba(run, np.stack([images[index], adversarial_images[index]]))
    fig = adversarial.plot_adversarial_example(run, images[index], adversarial_images[index], labels[index],
                                               run.classes)
    titles = [axis.get_title() for axis in fig.axes if axis.get_title()]
    assert len(titles) == 3
    before, after = probabilities.argmax(axis=1)
    assert f"predicted {run.classes[before]} ({probabilities[0].max():.0%})" in titles[0]
    assert f"true {run.classes[labels[index]]}" in titles[0]
    assert "ε = 0.15" in titles[1]
    assert f"predicted {run.classes[after]} ({probabilities[1].max():.0%})" in titles[2]
    assert fig.axes[1].images[0].get_cmap().name == "RdBu_r"  # diverging: up and down in two colours
    height, width, _ = decode(fig).shape
    assert height > 200 and width > 500
    fig = adversarial.plot_transform_accuracy(adversarial.transform_accuracy(run, images[:50], labels[:50]))
    assert decode(fig).shape[1] > 500


def test_bad_inputs_are_refused_with_help(cnn):
    run, images, labels = cnn
    with pytest.raises(ValueError, match=r"\(N, 1, 8, 8\)"):
        adversarial.fgsm(run, images[:, :, :, :6], labels, 0.1)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        adversarial.pgd(run.model, images[:, 0], labels, 0.1)
    with pytest.raises(ValueError, match=r"epsilon .* \[0, 1\]"):
        adversarial.fgsm(run, images, labels, 2.0)
    with pytest.raises(ValueError, match=r"200 class indices"):
        adversarial.fgsm(run, images, labels[:10], 0.1)
    with pytest.raises(ValueError, match="at least one step"):
        adversarial.pgd(run, images, labels, 0.1, steps=0)
