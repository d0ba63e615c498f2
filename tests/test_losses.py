"""Specification of the losses: values and gradients against PyTorch and calculus, and the
errors a learner meets first. The fused cross-entropy against its readable reference
(``ops.cross_entropy_reference``) is in tests/test_references.py."""
import warnings

import numpy as np
import pytest
import torch

import glassnet as gn
import glassnet.nn.functional as F
from glassnet import nn

TF = torch.nn.functional
rng = np.random.default_rng(0)

# N = 5 examples, C = 4 classes
Y = np.array([0, 3, 1, 1, 2])
Y_IGNORED = np.array([0, -100, 1, 3, -100])  # -100: PyTorch's default ignore_index
W = np.array([1.0, 2.0, 0.5, 1.5], dtype=np.float32)  # class weights
P = rng.dirichlet(np.ones(4), size=5).astype(np.float32)  # probability targets
Y_3D = np.array([[0, 3, 1], [2, 2, 0]])  # targets for (2, 4, 3) scores
P_3D = np.moveaxis(rng.dirichlet(np.ones(4), size=(2, 3)), -1, 1).astype(np.float32)  # (2, 4, 3)
Y_4D = np.array([[[1, 0], [3, 3]], [[2, 1], [0, -100]]])  # targets for (2, 4, 2, 2) scores
B = np.array([[1, 0, 1], [0, 0, 1], [1, 1, 0], [0.3, 0.8, 0.5], [1, 0, 0]], dtype=np.float32)  # BCE targets
BW = np.array([0.5, 2.0, 1.0], dtype=np.float32)  # BCE weight (broadcast over rows)
POS = np.array([3.0, 0.5, 1.0], dtype=np.float32)  # BCE pos_weight per column


def t(a):
    return torch.tensor(a)


# (name, glassnet loss of the scores x, torch loss of the scores, shape of x)
LOSSES = [
    ("ce_mean", lambda x: F.cross_entropy(x, Y), lambda x: TF.cross_entropy(x, t(Y)), (5, 4)),
    ("ce_sum", lambda x: F.cross_entropy(x, Y, reduction="sum"), lambda x: TF.cross_entropy(x, t(Y), reduction="sum"), (5, 4)),
    ("ce_none", lambda x: F.cross_entropy(x, Y, reduction="none"), lambda x: TF.cross_entropy(x, t(Y), reduction="none"), (5, 4)),
    ("ce_weight", lambda x: F.cross_entropy(x, Y, weight=W), lambda x: TF.cross_entropy(x, t(Y), weight=t(W)), (5, 4)),
    ("ce_weight_none", lambda x: F.cross_entropy(x, Y, weight=W, reduction="none"),
     lambda x: TF.cross_entropy(x, t(Y), weight=t(W), reduction="none"), (5, 4)),
    ("ce_ignore_default", lambda x: F.cross_entropy(x, Y_IGNORED), lambda x: TF.cross_entropy(x, t(Y_IGNORED)), (5, 4)),
    ("ce_ignore_index", lambda x: F.cross_entropy(x, Y, ignore_index=1, weight=W),
     lambda x: TF.cross_entropy(x, t(Y), ignore_index=1, weight=t(W)), (5, 4)),
    ("ce_ignore_none", lambda x: F.cross_entropy(x, Y_IGNORED, reduction="none"),
     lambda x: TF.cross_entropy(x, t(Y_IGNORED), reduction="none"), (5, 4)),
    ("ce_smoothing", lambda x: F.cross_entropy(x, Y, label_smoothing=0.1), lambda x: TF.cross_entropy(x, t(Y), label_smoothing=0.1), (5, 4)),
    ("ce_smoothing_weight_ignore", lambda x: F.cross_entropy(x, Y_IGNORED, weight=W, label_smoothing=0.2),
     lambda x: TF.cross_entropy(x, t(Y_IGNORED), weight=t(W), label_smoothing=0.2), (5, 4)),
    ("ce_smoothing_sum", lambda x: F.cross_entropy(x, Y, weight=W, label_smoothing=0.3, reduction="sum"),
     lambda x: TF.cross_entropy(x, t(Y), weight=t(W), label_smoothing=0.3, reduction="sum"), (5, 4)),
    ("ce_smoothing_none", lambda x: F.cross_entropy(x, Y_IGNORED, label_smoothing=0.1, reduction="none"),
     lambda x: TF.cross_entropy(x, t(Y_IGNORED), label_smoothing=0.1, reduction="none"), (5, 4)),
    ("ce_probabilities", lambda x: F.cross_entropy(x, P), lambda x: TF.cross_entropy(x, t(P)), (5, 4)),
    ("ce_probabilities_weight_smoothing", lambda x: F.cross_entropy(x, P, weight=W, label_smoothing=0.1),
     lambda x: TF.cross_entropy(x, t(P), weight=t(W), label_smoothing=0.1), (5, 4)),
    ("ce_probabilities_none", lambda x: F.cross_entropy(x, P, reduction="none"), lambda x: TF.cross_entropy(x, t(P), reduction="none"), (5, 4)),
    ("ce_3d", lambda x: F.cross_entropy(x, Y_3D), lambda x: TF.cross_entropy(x, t(Y_3D)), (2, 4, 3)),
    ("ce_3d_none", lambda x: F.cross_entropy(x, Y_3D, reduction="none"), lambda x: TF.cross_entropy(x, t(Y_3D), reduction="none"), (2, 4, 3)),
    ("ce_3d_probabilities", lambda x: F.cross_entropy(x, P_3D), lambda x: TF.cross_entropy(x, t(P_3D)), (2, 4, 3)),
    ("ce_4d_ignore_weight", lambda x: F.cross_entropy(x, Y_4D, weight=W), lambda x: TF.cross_entropy(x, t(Y_4D), weight=t(W)), (2, 4, 2, 2)),
    ("ce_1d", lambda x: F.cross_entropy(x, np.array(2)), lambda x: TF.cross_entropy(x, t(2)), (4,)),
    ("ce_1d_none", lambda x: F.cross_entropy(x, np.array(1), reduction="none"), lambda x: TF.cross_entropy(x, t(1), reduction="none"), (4,)),
    ("ce_1d_probabilities", lambda x: F.cross_entropy(x, P[0]), lambda x: TF.cross_entropy(x, t(P[0])), (4,)),
    ("nll_mean", lambda x: F.nll_loss(x, Y), lambda x: TF.nll_loss(x, t(Y)), (5, 4)),
    ("nll_sum_weight", lambda x: F.nll_loss(x, Y, weight=W, reduction="sum"), lambda x: TF.nll_loss(x, t(Y), weight=t(W), reduction="sum"), (5, 4)),
    ("nll_none_ignore", lambda x: F.nll_loss(x, Y_IGNORED, reduction="none"), lambda x: TF.nll_loss(x, t(Y_IGNORED), reduction="none"), (5, 4)),
    ("nll_weight_ignore", lambda x: F.nll_loss(x, Y_IGNORED, weight=W), lambda x: TF.nll_loss(x, t(Y_IGNORED), weight=t(W)), (5, 4)),
    ("nll_log_softmax", lambda x: F.nll_loss(F.log_softmax(x, dim=1), Y), lambda x: TF.nll_loss(TF.log_softmax(x, dim=1), t(Y)), (5, 4)),
    ("nll_3d", lambda x: F.nll_loss(x, Y_3D), lambda x: TF.nll_loss(x, t(Y_3D)), (2, 4, 3)),
    ("mse_mean", lambda x: F.mse_loss(x, P), lambda x: TF.mse_loss(x, t(P)), (5, 4)),
    ("mse_sum", lambda x: F.mse_loss(x, P, reduction="sum"), lambda x: TF.mse_loss(x, t(P), reduction="sum"), (5, 4)),
    ("mse_none", lambda x: F.mse_loss(x, P, reduction="none"), lambda x: TF.mse_loss(x, t(P), reduction="none"), (5, 4)),
    ("bce_mean", lambda x: F.binary_cross_entropy_with_logits(x, B), lambda x: TF.binary_cross_entropy_with_logits(x, t(B)), (5, 3)),
    ("bce_sum", lambda x: F.binary_cross_entropy_with_logits(x, B, reduction="sum"),
     lambda x: TF.binary_cross_entropy_with_logits(x, t(B), reduction="sum"), (5, 3)),
    ("bce_none", lambda x: F.binary_cross_entropy_with_logits(x, B, reduction="none"),
     lambda x: TF.binary_cross_entropy_with_logits(x, t(B), reduction="none"), (5, 3)),
    ("bce_weight", lambda x: F.binary_cross_entropy_with_logits(x, B, weight=BW),
     lambda x: TF.binary_cross_entropy_with_logits(x, t(B), weight=t(BW)), (5, 3)),
    ("bce_pos_weight", lambda x: F.binary_cross_entropy_with_logits(x, B, pos_weight=POS),
     lambda x: TF.binary_cross_entropy_with_logits(x, t(B), pos_weight=t(POS)), (5, 3)),
    ("bce_weight_pos_weight_none", lambda x: F.binary_cross_entropy_with_logits(x, B, weight=BW, pos_weight=POS, reduction="none"),
     lambda x: TF.binary_cross_entropy_with_logits(x, t(B), weight=t(BW), pos_weight=t(POS), reduction="none"), (5, 3)),
]
IDS = [case[0] for case in LOSSES]


def _scores(shape, seed=0):
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return x * 2  # logits of a few units, as a classifier produces


@pytest.mark.parametrize("name, gn_loss, torch_loss, shape", LOSSES, ids=IDS)
def test_loss_matches_pytorch(name, gn_loss, torch_loss, shape, torch_parity):
    torch_parity(gn_loss, torch_loss, _scores(shape), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name, gn_loss, torch_loss, shape", LOSSES, ids=IDS)
def test_loss_gradcheck(name, gn_loss, torch_loss, shape):
    x = gn.tensor(_scores(shape, seed=1).astype(np.float64), requires_grad=True)
    assert gn.gradcheck(gn_loss, [x])


def test_cross_entropy_on_a_known_example():
    # -log softmax([2, 0, 0])[0] = -2 + log(e^2 + 2) = 0.2395447
    logits = gn.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]], requires_grad=True)
    loss = F.cross_entropy(logits, gn.tensor([0, 1]))
    assert loss.item() == pytest.approx((0.2395447 + np.log(3)) / 2, rel=1e-6)
    loss.backward()
    # (softmax - one_hot) / N
    p = np.exp([2.0, 0.0, 0.0]) / np.exp([2.0, 0.0, 0.0]).sum()
    np.testing.assert_allclose(logits.grad, np.array([p - [1, 0, 0], [1 / 3, -2 / 3, 1 / 3]]) / 2, rtol=1e-6)


def test_cross_entropy_weight_mean_divides_by_the_summed_weights():
    logits = np.zeros((3, 2), np.float32)  # every row has loss log 2
    loss = F.cross_entropy(logits, [0, 1, 1], weight=[1.0, 3.0]).item()
    assert loss == pytest.approx(np.log(2), rel=1e-6)  # (1 + 3 + 3) log 2 / (1 + 3 + 3)
    assert F.cross_entropy(logits, [0, 1, 1], weight=[1.0, 3.0], reduction="sum").item() == pytest.approx(7 * np.log(2), rel=1e-6)


def test_ignored_targets_get_no_gradient():
    x = gn.tensor(_scores((5, 4)), requires_grad=True)
    F.cross_entropy(x, Y_IGNORED).backward()
    np.testing.assert_array_equal(x.grad[[1, 4]], 0.0)
    assert np.abs(x.grad[[0, 2, 3]]).min() > 0
    assert F.cross_entropy(x, Y_IGNORED, reduction="none").numpy()[[1, 4]].tolist() == [0.0, 0.0]


def test_bce_with_logits_stays_finite_for_large_logits():
    logits = np.array([[-200.0, 200.0, 50.0], [1e4, -1e4, 0.0]], dtype=np.float32)
    target = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]], dtype=np.float32)
    x, tx = gn.tensor(logits, requires_grad=True), torch.tensor(logits, requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(x, target, pos_weight=POS, reduction="sum")
    expected = TF.binary_cross_entropy_with_logits(tx, t(target), pos_weight=t(POS), reduction="sum")
    assert np.isfinite(loss.item())
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)  # about 3 * 200 + 0.5 * 1e4 + ...
    loss.backward()
    expected.backward()
    assert np.isfinite(x.grad).all()
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_bce_with_logits_on_a_known_example():
    # x = 0: sigmoid = 1/2, loss log 2 whatever the target; gradient (sigmoid - y) / n
    x = gn.tensor([0.0, 0.0], requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(x, [1.0, 0.0])
    assert loss.item() == pytest.approx(np.log(2), rel=1e-6)
    loss.backward()
    np.testing.assert_allclose(x.grad, [-0.25, 0.25])


def test_nll_loss_ignores_minus_infinity_where_the_target_has_no_weight():
    # log of probabilities that underflowed to 0: only the target's log-probability counts
    log_probs = np.array([[0.0, -np.inf, -np.inf], [np.log(0.5), np.log(0.5), -np.inf]], dtype=np.float32)
    x = gn.tensor(log_probs, requires_grad=True)
    loss = F.nll_loss(x, [0, 1])
    assert loss.item() == pytest.approx(TF.nll_loss(t(log_probs), t([0, 1])).item()) == pytest.approx(np.log(2) / 2)
    loss.backward()
    np.testing.assert_array_equal(x.grad, [[-0.5, 0, 0], [0, -0.5, 0]])


def test_mse_on_a_known_example():
    x = gn.tensor([1.0, 2.0, 4.0], requires_grad=True)
    loss = F.mse_loss(x, gn.tensor([1.0, 0.0, 1.0]))
    assert loss.item() == pytest.approx(13 / 3)
    loss.backward()
    np.testing.assert_allclose(x.grad, [0.0, 4 / 3, 2.0], rtol=1e-6)  # 2 (x - y) / n


# -- module forms --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "module, functional, target",
    [
        (nn.CrossEntropyLoss(), lambda x, y: F.cross_entropy(x, y), Y),
        (nn.CrossEntropyLoss(weight=W, ignore_index=1, reduction="sum", label_smoothing=0.1),
         lambda x, y: F.cross_entropy(x, y, W, 1, "sum", 0.1), Y),
        (nn.CrossEntropyLoss(reduction="none"), lambda x, y: F.cross_entropy(x, y, reduction="none"), Y_IGNORED),
        (nn.NLLLoss(weight=W), lambda x, y: F.nll_loss(x, y, weight=W), Y),
        (nn.NLLLoss(ignore_index=3, reduction="none"), lambda x, y: F.nll_loss(x, y, ignore_index=3, reduction="none"), Y),
        (nn.MSELoss(), F.mse_loss, P),
        (nn.MSELoss(reduction="sum"), lambda x, y: F.mse_loss(x, y, reduction="sum"), P),
        (nn.BCEWithLogitsLoss(), F.binary_cross_entropy_with_logits, P),
        (nn.BCEWithLogitsLoss(weight=W, pos_weight=W, reduction="none"),
         lambda x, y: F.binary_cross_entropy_with_logits(x, y, weight=W, pos_weight=W, reduction="none"), P),
    ],
    ids=["ce", "ce_options", "ce_none", "nll", "nll_options", "mse", "mse_sum", "bce", "bce_options"],
)
def test_module_form_equals_functional(module, functional, target):
    x = gn.tensor(_scores((5, 4)))
    np.testing.assert_array_equal(module(x, target).numpy(), functional(x, target).numpy())


def test_loss_module_matches_pytorch_module():
    x = _scores((5, 4))
    mine = nn.CrossEntropyLoss(weight=W, label_smoothing=0.05)(gn.tensor(x), Y).item()
    theirs = torch.nn.CrossEntropyLoss(weight=t(W), label_smoothing=0.05)(t(x), t(Y)).item()
    assert mine == pytest.approx(theirs, rel=1e-6)


# -- bad input -------------------------------------------------------------------------------------


def test_probabilities_passed_to_cross_entropy_warn():
    probs = gn.tensor(_scores((5, 4))).softmax(dim=1)
    with pytest.warns(UserWarning, match=r"logits.*Softmax|softmax"):
        F.cross_entropy(probs, Y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # raw scores: no warning
        F.cross_entropy(gn.tensor(_scores((5, 4))), Y)


def test_label_out_of_range_names_the_class_and_the_number_of_classes():
    with pytest.raises(ValueError, match=r"class 7.*4 classes"):
        F.cross_entropy(gn.tensor(_scores((5, 4))), np.array([0, 1, 7, 2, 3]))
    with pytest.raises(ValueError, match=r"class -1.*4 classes"):
        F.nll_loss(gn.tensor(_scores((5, 4))), np.array([0, 1, -1, 2, 3]))
    with pytest.raises(ValueError, match=r"class 4.*4 classes"):
        F.cross_entropy(gn.tensor(_scores((2, 4, 3))), np.array([[0, 1, 2], [3, 4, 0]]))


def test_float_class_indices_raise_type_error_with_help():
    with pytest.raises(TypeError, match=r"integer class indices.*help.*int64"):
        F.cross_entropy(gn.tensor(_scores((5, 4))), Y.astype(np.float32))
    with pytest.raises(TypeError, match=r"integer class indices.*help"):
        F.nll_loss(gn.tensor(_scores((5, 4))), Y.astype(np.float64))
    with pytest.raises(TypeError, match="integer class indices"):
        F.cross_entropy(gn.tensor(_scores((2, 4, 3))), Y_3D.astype(np.float32))
    with pytest.raises(TypeError, match="integer class indices"):
        F.cross_entropy(gn.tensor(_scores((4,))), np.array(2.0))


def test_target_batch_size_mismatch_is_an_error():
    with pytest.raises(ValueError, match=r"\(4,\).*\(5, 4\)"):
        F.cross_entropy(gn.tensor(_scores((5, 4))), Y[:4])
    with pytest.raises(ValueError, match=r"\(2, 2\).*\(2, 4, 3\)"):
        F.cross_entropy(gn.tensor(_scores((2, 4, 3))), Y_3D[:, :2])
    with pytest.raises(ValueError, match=r"probability targets.*\(4, 4\).*\(5, 4\)"):
        F.cross_entropy(gn.tensor(_scores((5, 4))), P[:4])
    with pytest.raises(ValueError, match=r"probability targets.*\(2, 4, 2\).*\(2, 4, 3\)"):
        F.cross_entropy(gn.tensor(_scores((2, 4, 3))), P_3D[:, :, :2])


def test_mse_loss_keeps_the_input_dtype_with_float64_targets():
    x = gn.tensor(_scores((4, 2)), requires_grad=True)
    loss = F.mse_loss(x, np.ones((4, 2)))  # NumPy's default float64 labels
    assert loss.dtype == np.float32
    assert loss.item() == pytest.approx(((_scores((4, 2)) - 1.0) ** 2).mean(), rel=1e-6)


def test_mse_loss_refuses_to_broadcast():
    # A deliberate difference from PyTorch, which broadcasts (N, 1) against (N,) into (N, N)
    # with only a warning: here it is an error that says how to fix it.
    with pytest.raises(ValueError, match=r"\(8, 1\).*\(8,\).*reshape"):
        F.mse_loss(gn.tensor(np.zeros((8, 1), np.float32)), gn.tensor(np.zeros(8, np.float32)))


def test_bad_reduction_and_smoothing_and_shapes():
    x = gn.tensor(_scores((5, 4)))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(x, Y, reduction="average")
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, Y, label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits.*\(5, 4\).*\(5,\)"):
        F.binary_cross_entropy_with_logits(x, np.zeros(5, np.float32))
    with pytest.raises(ValueError, match="class dimension"):
        F.cross_entropy(gn.tensor(1.0), np.array(0))
