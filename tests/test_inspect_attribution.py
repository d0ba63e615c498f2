"""Why a prediction: saliency, integrated gradients, Grad-CAM, attention and top-k, on the
cnn and mlp trained on the 8x8 digits (conftest), a fresh ViT and a small GPT."""
import copy
import io

import matplotlib.image
import numpy as np
import pytest

import glassnet as gn
from glassnet.inspect import capture, load_run, plots
from glassnet.inspect.attribution import (
    attention_maps, grad_cam, integrated_gradients, plot_attention, plot_attribution, plot_top_k, saliency, top_k,
)


def initial_model(name):
    """The network as ``glassnet train --seed 0`` built it, before any step."""
    gn.seed(0)
    return gn.models.build(name, (1, 8, 8), 10).eval()


def png_shape(fig):
    return matplotlib.image.imread(io.BytesIO(plots.to_png(fig)), format="png").shape[:2]


def scores(model, images, target):
    with gn.no_grad():
        logits = model(gn.tensor(np.asarray(images))).data
    return logits[np.arange(len(logits)), target]


@pytest.fixture(scope="module")
def runs(digits_cnn_run, digits_mlp_run):
    return {"cnn": load_run(digits_cnn_run), "mlp": load_run(digits_mlp_run)}


@pytest.fixture(scope="module")
def test_set(runs):
    return runs["cnn"].dataset("test")


# -- saliency ------------------------------------------------------------------------------------


def saliency_on_ink(model, images, threshold=0.25):
    """Mean saliency on the digit's pixels (intensity above ``threshold``) over the mean
    on the background, pooled over the images, and the share of images where it is > 1."""
    maps = saliency(model, images)
    ink = images[:, 0] > threshold
    per_image = np.array([m[i].mean() / m[~i].mean() for m, i in zip(maps, ink)])
    return maps[ink].mean() / maps[~ink].mean(), (per_image > 1).mean()


@pytest.mark.parametrize("name, pooled, images_above_one", [("cnn", 1.6, 0.98), ("mlp", 1.05, 0.6)])
def test_saliency_of_a_trained_model_lies_on_the_digit_more_than_on_the_background(runs, test_set, name, pooled,
                                                                                     images_above_one):
    # Measured on the 359 test digits (threshold 0.25): the cnn puts 1.84 times more
    # saliency per pixel on the ink than on the background (above 1 for all but one image),
    # the mlp 1.11 times (72% of images). The untrained networks: 1.56 and 0.92; so the
    # cnn's architecture already leans to the ink, and training moves both further.
    trained, share = saliency_on_ink(runs[name], test_set.images)
    untrained, _ = saliency_on_ink(initial_model(name), test_set.images)
    assert trained > pooled and share > images_above_one
    assert trained > untrained + 0.1


def test_saliency_is_the_absolute_gradient_of_the_target_score(runs, test_set):
    # checked against central differences on a float64 copy of the mlp
    images, target = test_set.images[:4], np.array([0, 3, 5, 9])
    maps = saliency(runs["mlp"], images, target=target)
    assert maps.shape == (4, 8, 8) and maps.dtype == np.float32
    model = copy.deepcopy(runs["mlp"].model).double()
    step = np.zeros(images.shape)
    for row, column in [(2, 3), (4, 4), (6, 1)]:
        step[:, 0, row, column] = 1e-4
        difference = (scores(model, images + step, target) - scores(model, images - step, target)) / 2e-4
        np.testing.assert_allclose(maps[:, row, column], np.abs(difference), rtol=1e-3, atol=1e-5)
        step[:, 0, row, column] = 0
    model = runs["mlp"].model
    # by default the predicted class
    predicted = scores(model, images, np.arange(10)[:, None]).argmax(axis=0)
    np.testing.assert_array_equal(saliency(runs["mlp"], images), saliency(runs["mlp"], images, target=predicted))


def test_attribution_leaves_the_model_as_it_was(runs, test_set):
    model = runs["cnn"].model
    model.train()
    try:
        saliency(model, test_set.images[:3])
        grad_cam(model, test_set.images[:3])
        assert model.training  # the mode is restored (it ran in eval mode)
        assert all(p.grad is None and p.requires_grad for p in model.parameters())  # weights untouched
    finally:
        model.eval()


def test_attribution_input_errors(runs, test_set):
    with pytest.raises(ValueError, match=r"cnn takes images of shape \(N, 1, 8, 8\), got an"
                       r" array of shape \(2, 1, 28, 28\)"):
        saliency(runs["cnn"], np.zeros((2, 1, 28, 28)))
    with pytest.raises(ValueError, match=r"target: classes are 0..9, got \[10, 1\]"):
        saliency(runs["cnn"], test_set.images[:2], target=[10, 1])
    with pytest.raises(ValueError, match=r"one class or one per image \(2,\), got shape \(3,\)"):
        saliency(runs["cnn"], test_set.images[:2], target=[1, 2, 3])


# -- integrated gradients ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["cnn", "mlp"])
def test_integrated_gradients_add_up_to_the_change_of_the_score(runs, test_set, name):
    model, images = runs[name].model, test_set.images[:12]
    target = scores(model, images, np.arange(10)[:, None]).argmax(axis=0)
    change = scores(model, images, target) - scores(model, np.zeros_like(images), target)
    errors = {}
    for steps in (8, 32):
        attributions = integrated_gradients(runs[name], images, steps=steps)
        assert attributions.shape == images.shape and attributions.dtype == np.float32
        errors[steps] = np.abs(attributions.sum(axis=(1, 2, 3)) - change).max()
    # measured with 32 steps: within 0.11 (cnn) and 0.02 (mlp) of changes of 0.8 to 14
    np.testing.assert_allclose(attributions.sum(axis=(1, 2, 3)), change, rtol=0.02, atol=0.05)
    assert errors[32] < errors[8]  # a finer Riemann sum, a closer total


def test_integrated_gradients_from_a_baseline(runs, test_set):
    images = test_set.images[:3]
    assert not integrated_gradients(runs["cnn"], images, baseline=images).any()  # no path, nothing to attribute
    # with a black baseline the black pixels get nothing: (x - baseline) is 0 there
    attributions = integrated_gradients(runs["cnn"], images)
    assert not attributions[images == 0].any()
    grey = np.full((1, 8, 8), 0.5, dtype=np.float32)
    target = np.array([1, 2, 3])
    total = integrated_gradients(runs["cnn"], images, target=target, baseline=grey, steps=64).sum(axis=(1, 2, 3))
    model = runs["cnn"].model
    change = scores(model, images, target) - scores(model, np.broadcast_to(grey, images.shape), target)
    np.testing.assert_allclose(total, change, rtol=0.03, atol=0.05)
    with pytest.raises(ValueError, match=r"baseline of shape \(8, 8\); expected \(1, 8, 8\) or \(3, 1, 8, 8\)"):
        integrated_gradients(runs["cnn"], images, baseline=np.zeros((8, 8)))


# -- Grad-CAM ------------------------------------------------------------------------------------


def test_grad_cam_maps_are_image_sized_in_zero_one_and_lie_on_the_digit(runs, test_set):
    images = test_set.images
    heat = grad_cam(runs["cnn"], images)
    assert heat.shape == (359, 8, 8) and heat.dtype == np.float32
    assert heat.min() == 0 and heat.max() == 1
    peaks = heat.max(axis=(1, 2))
    assert ((peaks == 1) | (peaks == 0)).all()  # each map scaled to its own maximum
    assert (peaks == 1).mean() > 0.95
    ink = images[:, 0] > 0.25
    assert heat[ink].mean() > 1.4 * heat[~ink].mean()  # measured 1.53
    # the default layer: the last convolution's ReLU ('6'), after its BatchNorm ('5')
    np.testing.assert_allclose(heat[:5], grad_cam(runs["cnn"], images[:5], layer="6"), atol=1e-5)
    assert not np.array_equal(heat[:5], grad_cam(runs["cnn"], images[:5], layer="2"))


def test_grad_cam_by_hand_on_the_first_convolutions_maps(runs, test_set):
    # at layer '2' (the first ReLU) the maps are already 8x8, so nothing is resampled:
    # weights = the mean gradient of the score per channel, map = ReLU(weighted sum of channels)
    model, image, digit = runs["cnn"].model, test_set.images[:1], 4
    _, found = capture(model, image, ["2"])
    maps = gn.tensor(found["2"], requires_grad=True)
    rest = gn.nn.Sequential(*[model[i] for i in range(3, 14)])  # the layers after it
    rest(maps)[0, digit].backward()
    coarse = np.maximum((maps.grad.mean(axis=(2, 3), keepdims=True) * maps.data).sum(axis=1)[0], 0)
    heat = grad_cam(runs["cnn"], image, target=digit, layer="2")[0]
    np.testing.assert_allclose(heat, coarse / coarse.max(), rtol=1e-4, atol=1e-6)


def test_grad_cam_errors(runs, test_set):
    with pytest.raises(ValueError, match=r"mlp \(Sequential\) has no Conv2d layer.*0"
                       r" \(Flatten\), 1 \(Linear\).*help: use saliency"):
        grad_cam(runs["mlp"], test_set.images[:2])
    with pytest.raises(ValueError, match=r"layer '10' \(Linear\) outputs \(2, 128\), not maps \(N, C, h, w\).*0, 4"):
        grad_cam(runs["cnn"], test_set.images[:2], layer="10")
    with pytest.raises(KeyError, match=r"no layer 'conv2'; its layers are"):
        grad_cam(runs["cnn"], test_set.images[:2], layer="conv2")


# -- attention -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vit():
    gn.seed(0)
    return gn.models.vit((1, 8, 8), 10, dim=16, depth=2, heads=4, mlp_dim=32).eval()


def test_vit_attention_rows_sum_to_one_and_match_a_recomputation(vit, test_set):
    images = test_set.images[:3]
    with gn.no_grad():
        expected = vit(gn.tensor(images)).data
    maps = attention_maps(vit, images)
    assert list(maps) == ["encoder.layers.0.self_attn", "encoder.layers.1.self_attn"]
    for weights in maps.values():
        assert weights.shape == (3, 4, 17, 17)  # 16 patches of 2x2 and the class token
        np.testing.assert_allclose(weights.sum(axis=-1), 1, rtol=1e-5)
    # softmax(q k^T / sqrt(d)) from the layer's own projections of what it was given
    attention = vit.encoder.layers[0].self_attn
    _, found = capture(vit, images, ["encoder.layers.0.norm1"])
    projected = found["encoder.layers.0.norm1"] @ attention.in_proj_weight.data.T + attention.in_proj_bias.data
    q, k, _ = np.split(projected, 3, axis=-1)
    q, k = (x.reshape(3, 17, 4, 4).transpose(0, 2, 1, 3) for x in (q, k))
    scores = q @ k.transpose(0, 1, 3, 2) / 2.0
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(maps["encoder.layers.0.self_attn"], weights, rtol=1e-4, atol=1e-6)
    # the network is left as it was: same output, its own forward back
    with gn.no_grad():
        np.testing.assert_array_equal(vit(gn.tensor(images)).data, expected)
    assert "forward" not in attention.__dict__


def test_gpt_attention_is_causal(test_set):
    gn.seed(0)
    model = gn.models.gpt(vocab_size=12, context=16, dim=16, depth=2, heads=2)
    tokens = np.array([[1, 5, 2, 7, 7, 3, 0, 11, 4, 2]])
    maps = attention_maps(model, tokens)
    assert list(maps) == ["blocks.layers.0.self_attn", "blocks.layers.1.self_attn"]
    for weights in maps.values():
        assert weights.shape == (1, 2, 10, 10)
        np.testing.assert_allclose(weights.sum(axis=-1), 1, rtol=1e-5)
        assert not np.triu(weights[0, 0], k=1).any()  # nothing from the future
        assert weights[0, :, 0, 0] == pytest.approx(1)  # the first token sees only itself
    one_sequence = attention_maps(model, tokens[0])  # (T,) token ids: a batch of one
    np.testing.assert_array_equal(one_sequence["blocks.layers.1.self_attn"], maps["blocks.layers.1.self_attn"])


def test_attention_maps_of_a_model_without_attention(runs, test_set):
    with pytest.raises(ValueError, match=r"cnn \(Sequential\) has no MultiheadAttention"
                       r" layer; its layers are: 0 \(Conv2d\)"):
        attention_maps(runs["cnn"], test_set.images[:1])


# -- top-k ---------------------------------------------------------------------------------------


def test_top_k_probabilities_and_classes(runs, test_set):
    probabilities, indices = top_k(runs["cnn"], test_set.images, k=3)
    assert probabilities.shape == indices.shape == (359, 3) and probabilities.dtype == np.float32
    assert (np.diff(probabilities, axis=1) <= 0).all()
    top1 = (indices[:, 0] == test_set.labels).mean()
    top3 = (indices == test_set.labels[:, None]).any(axis=1).mean()
    assert top1 > 0.95 and top3 >= top1 and top3 > 0.99  # measured 97.8% and 99.7%
    everything, _ = top_k(runs["cnn"], test_set.images[:5], k=10)
    np.testing.assert_allclose(everything.sum(axis=1), 1, rtol=1e-5)
    _, names = top_k(runs["cnn"], test_set.images[:5], k=2, classes=[f"digit {i}" for i in range(10)])
    assert names[0, 0] == f"digit {indices[0, 0]}"


def test_top_k_errors(runs, test_set):
    with pytest.raises(ValueError, match=r"k must be between 1 and the number of classes \(10\), got 11"):
        top_k(runs["cnn"], test_set.images[:2], k=11)
    with pytest.raises(ValueError, match=r"3 class names for a model with 10 outputs"):
        top_k(runs["cnn"], test_set.images[:2], classes=["a", "b", "c"])


# -- figures -------------------------------------------------------------------------------------


def test_plot_attribution_overlays_each_map_below_its_image(runs, test_set):
    images = test_set.images[:6]
    fig = plot_attribution(images, grad_cam(runs["cnn"], images), titles=[f"label {y}" for y in test_set.labels[:6]])
    assert len(fig.axes) == 2 * 6
    assert fig.axes[0].get_title() == f"label {test_set.labels[0]}" and len(fig.axes[6].images) == 2  # image + heat
    height, width = png_shape(fig)
    assert 200 < height < 320 and 550 < width < 860  # 2 rows of 6 squares
    signed = plot_attribution(images, integrated_gradients(runs["cnn"], images, steps=8))
    assert signed.axes[6].images[0].get_cmap().name == "bwr"  # positive and negative attributions
    with pytest.raises(ValueError, match=r"maps of shape \(5, 8, 8\) for images of "
                       r"shape \(6, 1, 8, 8\); expected \(6, 8, 8\)"):
        plot_attribution(images, np.zeros((5, 8, 8)))


def test_plot_attention_grids_layers_by_heads(vit, test_set):
    maps = attention_maps(vit, test_set.images[:2])
    fig = plot_attention(maps, index=1, image=test_set.images[1])
    assert len(fig.axes) == 2 * 4 and fig.axes[5].get_title() == "encoder.layers.1 head 1"
    height, width = png_shape(fig)
    assert width > 1.2 * height  # 2 rows of 4
    gn.seed(0)
    gpt = gn.models.gpt(vocab_size=12, context=16, dim=16, depth=1, heads=2)
    fig = plot_attention(attention_maps(gpt, np.arange(6)), tokens=list("def f("))
    assert len(fig.axes) == 2 and [t.get_text() for t in fig.axes[0].get_xticklabels()] == list("def f(")


def test_plot_top_k_names_the_classes(runs, test_set):
    probabilities, indices = top_k(runs["cnn"], test_set.images[:3], k=3)
    names = [f"digit {i}" for i in range(10)]
    fig = plot_top_k(test_set.images[:3], probabilities, indices, classes=names, labels=test_set.labels[:3])
    assert len(fig.axes) == 3 * 2
    assert [t.get_text() for t in fig.axes[1].get_yticklabels()] == [names[i] for i in indices[0]]
    assert fig.axes[0].get_title() == f"true: digit {test_set.labels[0]}"
    height, width = png_shape(fig)
    assert 250 < height < 450 and 300 < width < 520
