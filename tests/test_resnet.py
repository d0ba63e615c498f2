"""The residual network (glassnet.models.resnet): parity with its PyTorch twin (same
weights, same logits and gradients, in training and in evaluation), torchvision's
parameter names, the shapes it takes and the errors it gives, and learning on real data."""
import importlib.util
import pathlib

import numpy as np
import pytest
import torch

import glassnet as gn
from glassnet.nn import functional as F

_spec = importlib.util.spec_from_file_location("torch_twins", pathlib.Path(__file__).parents[1] / "bench" / "torch_twins.py")
torch_twins = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(torch_twins)

SHAPES = [(1, 28, 28), (3, 32, 32)]


def model_and_twin(input_shape, **options):
    """A glassnet ResNet in float64 with random batch-norm affine and running statistics
    (so that evaluation is not the identity), and its PyTorch twin holding the same weights."""
    gn.seed(0)
    model = gn.models.build("resnet", input_shape, 10, **options)
    rng = np.random.default_rng(1)
    for name, module in model.named_modules():
        if isinstance(module, gn.nn.BatchNorm2d):
            size = module.num_features
            module.weight.data[...] = rng.uniform(0.5, 1.5, size)
            module.bias.data[...] = rng.normal(0, 0.1, size)
            module.running_mean.data[...] = rng.normal(0, 0.1, size)
            module.running_var.data[...] = rng.uniform(0.5, 1.5, size)
    torch.set_num_threads(1)
    twin = torch_twins.twin_of("resnet", model, input_shape, 10, **options)  # strict: same names and shapes
    return model.double(), twin.double()


def forward_backward(model, twin, images, labels):
    logits = model(gn.tensor(images))
    loss = F.cross_entropy(logits, gn.tensor(labels))
    loss.backward()
    their_logits = twin(torch.from_numpy(images))
    their_loss = torch.nn.functional.cross_entropy(their_logits, torch.from_numpy(labels))
    their_loss.backward()
    return logits.data, their_logits.detach().numpy(), loss.item(), their_loss.item()


@pytest.mark.parametrize("input_shape", SHAPES, ids=["28x28x1", "32x32x3"])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_resnet_matches_its_pytorch_twin(input_shape, mode):
    # blocks=2: every stage has an identity block; stages 2 and 3 start with a projection
    model, twin = model_and_twin(input_shape, width=8, blocks=2)
    model.train(mode == "train")
    twin.train(mode == "train")
    rng = np.random.default_rng(0)
    images = rng.standard_normal((4, *input_shape))
    labels = rng.integers(0, 10, 4)
    ours, theirs, loss, their_loss = forward_backward(model, twin, images, labels)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    assert loss == pytest.approx(their_loss, rel=1e-10)
    their_parameters = dict(twin.named_parameters())
    assert sorted(their_parameters) == sorted(name for name, _ in model.named_parameters())
    for name, parameter in model.named_parameters():
        their_grad = their_parameters[name].grad.numpy()
        np.testing.assert_allclose(parameter.grad, their_grad, rtol=1e-8, atol=1e-12, err_msg=name)
    # training updates the running statistics the same way; evaluation leaves them alone
    their_state = twin.state_dict()
    for name, value in model.state_dict().items():
        np.testing.assert_allclose(value, their_state[name].numpy(), rtol=1e-12, atol=1e-15, err_msg=name)


def test_resnet_matches_its_pytorch_twin_in_float32():
    # One fixed batch: in float32 a ReLU input within rounding of zero can fall on the other
    # side in one framework and move single gradient entries by a percent (both frameworks
    # do, against float64), so the tight parity is the float64 test above.
    gn.seed(0)
    model = gn.models.build("resnet", (1, 28, 28), 10)  # the default: width 16, two blocks per stage
    twin = torch_twins.twin_of("resnet", model, (1, 28, 28), 10)
    images = np.random.default_rng(0).random((8, 1, 28, 28), dtype=np.float32)
    labels = np.arange(8) % 10
    ours, theirs, _, _ = forward_backward(model, twin, images, labels)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)
    their_parameters = dict(twin.named_parameters())
    for name, parameter in model.named_parameters():
        their_grad = their_parameters[name].grad.numpy()
        np.testing.assert_allclose(parameter.grad, their_grad, rtol=1e-4, atol=1e-6, err_msg=name)


def test_resnet_has_torchvisions_parameter_names():
    model = gn.models.resnet((3, 32, 32), 10, width=16, blocks=3)  # ResNet-20
    names = list(model.state_dict())
    assert names[:3] == ["conv1.weight", "bn1.weight", "bn1.bias"]
    assert {"layer1.0.conv1.weight", "layer1.2.bn2.running_var", "layer2.0.downsample.0.weight",
            "layer2.0.downsample.1.bias", "layer3.2.conv2.weight", "fc.weight", "fc.bias"} <= set(names)
    assert not any(name.startswith("layer1.0.downsample") for name in names)  # same width, stride 1: identity
    assert not any(name.startswith("layer4") for name in names)
    weighted = [n for n in names if n.endswith("conv1.weight") or n.endswith("conv2.weight") or n == "fc.weight"]
    assert len(weighted) == 20  # the 20 layers of ResNet-20 (the 1x1 projections are not counted)
    assert model.layer2[0].conv1.stride == (2, 2) and model.layer2[0].downsample[0].kernel_size == (1, 1)
    assert model.fc.in_features == 64
    assert sum(p.numel() for p in model.parameters()) == 272_474  # the paper's "0.27M"


def test_resnet_state_dict_round_trip(tmp_path):
    gn.seed(0)
    model = gn.models.resnet((1, 28, 28), 10, width=8, blocks=1)
    images = gn.tensor(np.random.default_rng(0).random((4, 1, 28, 28), dtype=np.float32))
    model(images)  # one training step's batch statistics into the running averages
    model.eval()
    expected = model(images).data

    gn.seed(1)
    copy = gn.models.resnet((1, 28, 28), 10, width=8, blocks=1)
    copy.load_state_dict(model.state_dict())
    np.testing.assert_array_equal(copy.eval()(images).data, expected)

    gn.save(model, tmp_path / "resnet.safetensors")
    rebuilt = gn.load(tmp_path / "resnet.safetensors")  # the architecture is saved along
    assert isinstance(rebuilt, gn.models.ResNet)
    np.testing.assert_array_equal(rebuilt.eval()(images).data, expected)

    # and over to PyTorch and back: the names map one to one
    twin = torch_twins.twin_of("resnet", model, (1, 28, 28), 10, width=8, blocks=1)
    back = gn.models.resnet((1, 28, 28), 10, width=8, blocks=1)
    back.load_state_dict({name: value.numpy() for name, value in twin.state_dict().items()})
    np.testing.assert_array_equal(back.eval()(images).data, expected)


@pytest.mark.parametrize("input_shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32), (2, 12, 20)])
def test_resnet_takes_any_image_of_at_least_8x8(input_shape):
    model = gn.models.build("resnet", input_shape, 7, width=4, blocks=1)
    assert model(gn.tensor(np.zeros((2, *input_shape), np.float32))).shape == (2, 7)


def test_resnet_blocks_per_stage_and_the_smallest_image():
    model = gn.models.resnet((3, 32, 32), 10, width=4, blocks=(1, 1, 1, 1))  # four stages: 32 -> 16 -> 8 -> 4
    assert model.fc.in_features == 32 and hasattr(model, "layer4")
    assert model(gn.tensor(np.zeros((1, 3, 32, 32), np.float32))).shape == (1, 10)
    with pytest.raises(ValueError, match=r"7x7 are too small for 3 stages.*at least 8x8"):
        gn.models.resnet((1, 7, 7), 10)
    two_stages = gn.models.resnet((1, 4, 4), 10, blocks=(1, 1))  # 4 -> 2: fewer stages take smaller images
    assert two_stages(gn.tensor(np.zeros((1, 1, 4, 4), np.float32))).shape == (1, 10)
    with pytest.raises(ValueError, match="blocks must be a positive int"):
        gn.models.resnet((1, 28, 28), 10, blocks=0)
    with pytest.raises(ValueError, match="width must be a positive int"):
        gn.models.resnet((1, 28, 28), 10, width=0)


def test_resnet_names_the_layer_that_refuses_the_wrong_channels():
    model = gn.models.resnet((1, 28, 28), 10)
    with pytest.raises(ValueError, match=r"ResNet: its first layer conv1 \(Conv2d\(1, 16, .*\) expects images with 1 channel, "
                                         r"got input of shape \(2, 3, 28, 28\).*input_shape=\(3, 28, 28\)"):
        model(gn.tensor(np.zeros((2, 3, 28, 28), np.float32)))
    with pytest.raises(ValueError, match=r"Conv2d\(1, 16.*channels seem to be last"):
        model(gn.tensor(np.zeros((2, 28, 28, 1), np.float32)))
    with pytest.raises(ValueError, match=r"Conv2d\(1, 16.*expected a 4-D input"):
        model(gn.tensor(np.zeros((2, 784), np.float32)))


def test_basic_block_shortcuts():
    same = gn.models.BasicBlock(8, 8)
    assert same.downsample is None
    x = gn.tensor(np.random.default_rng(0).standard_normal((2, 8, 6, 6)).astype(np.float32))
    # with the residual branch silenced (bn2 scaled to zero) the block is relu(x): the identity path
    same.bn2.weight.data[...] = 0
    np.testing.assert_allclose(same(x).data, np.maximum(x.data, 0))
    wider = gn.models.BasicBlock(8, 16, stride=2)
    assert [type(m).__name__ for m in wider.downsample] == ["Conv2d", "BatchNorm2d"]
    assert wider(x).shape == (2, 16, 3, 3)


def test_resnet_learns_the_digits_in_seconds():
    train, test = gn.data.load_dataset("digits", "train"), gn.data.load_dataset("digits", "test")
    gn.seed(0)
    model = gn.models.resnet((1, 8, 8), 10, width=8, blocks=1)  # ResNet-8 on 8x8: stages see 8, 4 and 2 pixels
    optimizer = gn.optim.Adam(model.parameters(), lr=3e-3)
    # about 1.5 s on 2 idle cores (not asserted: a busy machine can make it many times longer)
    gn.train.fit(model, gn.data.DataLoader(train, batch_size=32, shuffle=True), optimizer, epochs=5, progress=False)
    accuracy = gn.train.evaluate(model, test)["acc"]
    assert accuracy >= 0.95, f"test accuracy {accuracy:.2%} after 5 epochs"  # 97-98% over seeds 0-4


def test_glassnet_train_model_resnet(tmp_path):
    from glassnet import cli

    path = tmp_path / "model.safetensors"
    assert cli.main(["train", "--model", "resnet", "--dataset", "digits", "--epochs", "1", "--seed", "0",
                     "--save", str(path), "--progress", "off"]) == 0
    assert cli.main(["evaluate", "--load", str(path)]) == 0
