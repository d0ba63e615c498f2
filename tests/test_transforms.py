"""glassnet.data.transforms: torchvision's transforms on tiny images whose results can be
worked out by hand, PyTorch's own padding and interpolation as the oracle where it
computes the same thing, reproducibility under glassnet.seed, and clear errors."""
import os
import random
import subprocess
import sys

import numpy as np
import pytest

import glassnet as gn
from glassnet import nn
from glassnet.data import DataLoader, Dataset, transforms as T
from glassnet.tensor import Tensor

Image = pytest.importorskip("PIL.Image")


def arange_image(*shape, dtype=np.float32):
    return np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape)


def pil(array, mode=None):
    image = Image.fromarray(array)
    assert mode is None or image.mode == mode
    return image


# -- ToTensor ---------------------------------------------------------------------------


def test_to_tensor_turns_hwc_uint8_into_chw_float32_in_0_1():
    hwc = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) * 10
    out = T.ToTensor()(hwc)
    assert isinstance(out, Tensor) and not out.requires_grad
    assert out.shape == (3, 2, 3) and out.dtype == np.float32
    for c in range(3):
        np.testing.assert_array_equal(out.numpy()[c], hwc[:, :, c] / np.float32(255))
    assert T.ToTensor()(np.array([[0, 255]], dtype=np.uint8)).tolist() == [[[0.0, 1.0]]]  # (H, W) -> (1, H, W)


def test_to_tensor_from_pil_grey_and_rgb():
    grey = np.array([[0, 51], [102, 255]], dtype=np.uint8)
    out = T.ToTensor()(pil(grey, "L"))
    assert out.shape == (1, 2, 2) and out.dtype == np.float32
    np.testing.assert_allclose(out.numpy()[0], [[0, 0.2], [0.4, 1.0]], rtol=1e-6)

    rgb = np.zeros((2, 3, 3), dtype=np.uint8)
    rgb[..., 0], rgb[0, 1, 1], rgb[1, 2, 2] = 255, 255, 51  # red everywhere, a little green and blue
    out = T.ToTensor()(pil(rgb, "RGB")).numpy()
    assert out.shape == (3, 2, 3)
    np.testing.assert_array_equal(out[0], np.ones((2, 3)))
    assert out[1, 0, 1] == 1.0 and out[2, 1, 2] == np.float32(51) / 255 and out[1].sum() == 1.0


def test_to_tensor_keeps_float_values_and_makes_binary_images_0_or_1():
    floats = np.array([[[0.5], [2.0]]], dtype=np.float64)  # (H, W, C) = (1, 2, 1)
    out = T.ToTensor()(floats)
    assert out.dtype == np.float32 and out.tolist() == [[[0.5, 2.0]]]
    binary = Image.fromarray(np.array([[0, 255]], dtype=np.uint8)).convert("1")
    assert T.ToTensor()(binary).tolist() == [[[0.0, 1.0]]]
    assert T.ToTensor()(Image.fromarray(np.array([[0.25]], dtype=np.float32))).tolist() == [[[0.25]]]  # mode 'F'


def test_to_tensor_refuses_what_it_cannot_read():
    with pytest.raises(ValueError, match=r"ToTensor: .*\(H, W\) or \(H, W, C\).*\(1, 2, 3, 4\)"):
        T.ToTensor()(np.zeros((1, 2, 3, 4), dtype=np.uint8))
    with pytest.raises(TypeError, match="ToTensor: expects a PIL Image or a NumPy array.*list"):
        T.ToTensor()([[0, 1]])
    with pytest.raises(TypeError, match="drop ToTensor"):
        T.ToTensor()(gn.zeros(1, 2, 2))


# -- Normalize --------------------------------------------------------------------------


def test_normalize_per_channel():
    image = np.stack([np.full((2, 2), 0.5), np.full((2, 2), 1.0), np.zeros((2, 2))]).astype(np.float32)
    out = T.Normalize(mean=(0.5, 0.5, 0.25), std=(0.5, 0.25, 0.5))(image)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out is not image
    np.testing.assert_array_equal(out[:, 0, 0], [0.0, 2.0, -0.5])
    assert image[1, 0, 0] == 1.0  # not in place
    # a single value is every channel's; a Tensor comes back as a Tensor
    out = T.Normalize((0.5,), (0.5,))(gn.tensor(image))
    assert isinstance(out, Tensor) and out.numpy()[:, 0, 0].tolist() == [0.0, 1.0, -1.0]


def test_normalize_in_place_overwrites_the_image():
    image = np.ones((1, 2, 2), dtype=np.float32)
    assert T.Normalize([1.0], [2.0], inplace=True)(image) is image
    assert image.tolist() == [[[0.0, 0.0], [0.0, 0.0]]]
    frozen = np.ones((1, 2, 2), dtype=np.float32)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        T.Normalize([1.0], [2.0], inplace=True)(frozen)


def test_normalize_says_when_the_channels_do_not_match():
    with pytest.raises(ValueError) as caught:
        T.Normalize((0.5, 0.5), (0.2, 0.2))(np.zeros((3, 4, 4), dtype=np.float32))
    message = str(caught.value)
    assert message.startswith("Normalize:") and "3 channels" in message and "mean has 2 values" in message
    with pytest.raises(TypeError, match="Normalize: .*PIL Image.*ToTensor"):
        T.Normalize((0.5,), (0.5,))(pil(np.zeros((2, 2), dtype=np.uint8)))
    with pytest.raises(TypeError, match="Normalize: expects a float image.*uint8"):
        T.Normalize((0.5,), (0.5,))(np.zeros((1, 2, 2), dtype=np.uint8))
    with pytest.raises(ValueError, match="Normalize: std must not be zero"):
        T.Normalize((0.5,), (0.0,))
    with pytest.raises(ValueError, match=r"Normalize: expects an image of shape \(\.\.\., C, H, W\)"):
        T.Normalize((0.5,), (0.5,))(np.zeros((4, 4), dtype=np.float32))


# -- Resize -----------------------------------------------------------------------------


def test_resize_output_size_for_int_and_pair():
    image = np.zeros((1, 4, 6), dtype=np.float32)  # H=4, W=6
    assert T.Resize(2)(image).shape == (1, 2, 3)  # the smaller edge (H) becomes 2, W keeps the ratio
    assert T.Resize(3)(image).shape == (1, 3, 4)  # 3 * 6 / 4 = 4.5, truncated
    assert T.Resize((3, 5))(image).shape == (1, 3, 5)
    assert T.Resize([5])(image).shape == (1, 5, 7)
    assert T.Resize(4, max_size=6)(np.zeros((1, 4, 12))).shape == (1, 2, 6)  # the longer edge capped
    assert T.Resize(4)(image) is image  # already that size
    picture = pil(np.zeros((4, 6), dtype=np.uint8))
    assert T.Resize(2)(picture).size == (3, 2)  # PIL sizes are (W, H)
    assert T.Resize((3, 5))(picture).size == (5, 3)
    assert T.Resize((3, 5))(gn.zeros(2, 1, 4, 6)).shape == (2, 1, 3, 5)  # a batch of images


def test_resize_matches_pytorch_interpolate_on_arrays():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    for (h, w), size in [((7, 9), (3, 4)), ((5, 6), (11, 13)), ((13, 17), (5, 6))]:
        image = rng.random((2, h, w), dtype=np.float32)
        for mode in ("nearest", "nearest-exact", "bilinear", "bicubic"):
            for antialias in (False, True):
                mine = T.Resize(size, interpolation=T.InterpolationMode(mode), antialias=antialias)(image)
                options = {} if mode.startswith("nearest") else {"align_corners": False, "antialias": antialias}
                theirs = torch.nn.functional.interpolate(torch.from_numpy(image)[None], size=size, mode=mode,
                                                         **options)[0].numpy()
                np.testing.assert_allclose(mine, theirs, atol=2e-6, err_msg=f"{mode}, antialias={antialias}")


def test_resize_of_a_float_pil_image_matches_the_array_path():
    image = np.random.default_rng(1).random((9, 13), dtype=np.float32)
    for mode in (T.InterpolationMode.BILINEAR, T.InterpolationMode.BICUBIC):
        for size in [(4, 5), (20, 7)]:
            resize = T.Resize(size, interpolation=mode)
            np.testing.assert_allclose(np.asarray(resize(pil(image, "F"))), resize(image), atol=1e-6)
    # Pillow's NEAREST is the pixel under each centre: NEAREST_EXACT on arrays (as torchvision)
    ours = T.Resize((4, 5), interpolation=T.InterpolationMode.NEAREST_EXACT)(image)
    np.testing.assert_array_equal(np.asarray(T.Resize((4, 5), T.InterpolationMode.NEAREST)(pil(image))), ours)


def test_resize_rounds_uint8_arrays_and_refuses_bad_sizes():
    out = T.Resize((1, 1))(np.array([[[0, 255], [255, 0]]], dtype=np.uint8))
    assert out.dtype == np.uint8 and out.tolist() == [[[128]]]  # the mean, 127.5, rounded
    for size in [(1, 2, 3), "big", 0, (2, -1), 2.5]:
        with pytest.raises(ValueError, match="Resize: size must be"):
            T.Resize(size)
    with pytest.raises(ValueError, match="Resize: max_size is only for an int size"):
        T.Resize((2, 3), max_size=10)
    with pytest.raises(ValueError, match="Resize: max_size = 2 must be greater"):
        T.Resize(4, max_size=2)
    with pytest.raises(ValueError, match="LANCZOS works on PIL images only"):
        T.Resize(2, interpolation=T.InterpolationMode.LANCZOS)(np.zeros((1, 4, 4)))
    with pytest.raises(TypeError, match="Resize: interpolation must be an InterpolationMode"):
        T.Resize(2, interpolation="sideways")


# -- CenterCrop -------------------------------------------------------------------------


def test_center_crop_picks_the_middle():
    image = arange_image(1, 5, 5)
    np.testing.assert_array_equal(T.CenterCrop(3)(image)[0], image[0, 1:4, 1:4])
    np.testing.assert_array_equal(T.CenterCrop((1, 3))(image)[0], image[0, 2:3, 1:4])
    # an even margin of 3 splits as torchvision does: round(1.5) = 2 rows above
    np.testing.assert_array_equal(T.CenterCrop(1)(arange_image(4, 4)), [[10.0]])
    picture = pil(arange_image(5, 5, dtype=np.uint8))
    np.testing.assert_array_equal(np.asarray(T.CenterCrop(3)(picture)), image[0, 1:4, 1:4])


def test_center_crop_pads_an_image_smaller_than_the_crop():
    out = T.CenterCrop((2, 4))(np.ones((1, 2, 2), dtype=np.float32))
    assert out.tolist() == [[[0, 1, 1, 0], [0, 1, 1, 0]]]
    picture = T.CenterCrop(4)(pil(np.full((2, 2), 9, dtype=np.uint8)))
    assert picture.size == (4, 4) and np.asarray(picture).sum() == 36
    with pytest.raises(ValueError, match=r"CenterCrop: size must be a positive int or a sequence \(h, w\)"):
        T.CenterCrop((1, 2, 3))


# -- RandomCrop -------------------------------------------------------------------------


def windows(image, h, w):
    """Every h x w window of (C, H, W) image."""
    return [image[..., i:i + h, j:j + w] for i in range(image.shape[-2] - h + 1) for j in range(image.shape[-1] - w + 1)]


def test_random_crop_with_padding_keeps_the_size_and_is_a_window_of_the_padded_image():
    image = arange_image(2, 4, 5) + 1
    padded = np.pad(image, ((0, 0), (2, 2), (2, 2)))
    crop = T.RandomCrop((4, 5), padding=2)
    seen = set()
    for _ in range(30):
        out = crop(image)
        assert out.shape == image.shape and out.dtype == image.dtype
        matches = [k for k, window in enumerate(windows(padded, 4, 5)) if np.array_equal(out, window)]
        assert matches
        seen.update(matches)
    assert len(seen) > 5  # it does move around


def test_random_crop_of_a_pil_image_is_a_window_too():
    image = arange_image(4, 4, dtype=np.uint8) + 1
    out = np.asarray(T.RandomCrop(3, padding=1)(pil(image)))
    assert out.shape == (3, 3)
    assert any(np.array_equal(out, w) for w in windows(np.pad(image, 1), 3, 3))


def test_random_crop_padding_modes_match_pytorch_pad():
    torch = pytest.importorskip("torch")
    image = arange_image(2, 3, 4)
    # left, top, right, bottom = 2, 1, 2, 1; crop the whole padded image to see all of it
    for mode, theirs in [("constant", "constant"), ("edge", "replicate"), ("reflect", "reflect")]:
        out = T.RandomCrop((5, 8), padding=(2, 1), padding_mode=mode, fill=0)(image)
        expected = torch.nn.functional.pad(torch.from_numpy(image), (2, 2, 1, 1), mode=theirs).numpy()
        np.testing.assert_array_equal(out, expected, err_msg=mode)
    row = np.array([[[1.0, 2.0, 3.0]]])
    assert T.RandomCrop((1, 7), padding=(2, 0), padding_mode="symmetric")(row).tolist() == [[[2, 1, 1, 2, 3, 3, 2]]]
    assert T.RandomCrop((1, 5), padding=(1, 0), fill=7)(row).tolist() == [[[7, 1, 2, 3, 7]]]
    four_sides = T.RandomCrop((4, 6), padding=(1, 2, 3, 0))(np.ones((1, 2, 2)))  # left, top, right, bottom
    assert four_sides[0, 2:, 1:3].sum() == 4 and four_sides.sum() == 4


def test_random_crop_fills_per_channel_and_pads_pil_images_alike():
    out = T.RandomCrop((1, 3), padding=(1, 0), fill=(5, 6))(np.zeros((2, 1, 1), dtype=np.float32))
    assert out.tolist() == [[[5, 0, 5]], [[6, 0, 6]]]
    rgb = pil(np.zeros((1, 1, 3), dtype=np.uint8))
    assert np.asarray(T.RandomCrop((1, 3), padding=(1, 0), fill=(5, 6, 7))(rgb))[0, 0].tolist() == [5, 6, 7]
    grey = arange_image(2, 3, dtype=np.uint8)
    for mode in ("edge", "reflect", "symmetric"):
        expected = T.RandomCrop((4, 5), padding=1, padding_mode=mode)(grey)
        np.testing.assert_array_equal(np.asarray(T.RandomCrop((4, 5), padding=1, padding_mode=mode)(pil(grey))),
                                      expected)


def test_random_crop_pads_if_needed_and_says_when_the_crop_is_too_big():
    out = T.RandomCrop((3, 3), pad_if_needed=True)(np.ones((1, 2, 2)))
    assert out.shape == (1, 3, 3) and out.sum() in (1, 2, 4)
    with pytest.raises(ValueError, match=r"RandomCrop: the crop size \(5, 5\) is larger than the image's size \(4, 4\)"):
        T.RandomCrop(5)(np.zeros((1, 4, 4)))
    with pytest.raises(ValueError, match="RandomCrop: size must be"):
        T.RandomCrop([])
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        T.RandomCrop(2, padding=1, padding_mode="wrap")
    with pytest.raises(ValueError, match="RandomCrop: padding must be an int or a 1, 2 or 4 element sequence"):
        T.RandomCrop(2, padding=(1, 2, 3))
    with pytest.raises(ValueError, match="fill has 2 values but the image has 3 channels"):
        T.RandomCrop(2, padding=1, fill=(1, 2))(np.zeros((3, 2, 2)))


# -- flips ------------------------------------------------------------------------------


def test_flips_reverse_columns_or_rows():
    image = arange_image(2, 2, 3)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(image), image[:, :, ::-1])
    np.testing.assert_array_equal(T.RandomVerticalFlip(p=1.0)(image), image[:, ::-1, :])
    assert T.RandomHorizontalFlip(p=0.0)(image) is image
    flipped = T.RandomHorizontalFlip(p=1.0)(gn.tensor(image))
    assert isinstance(flipped, Tensor) and flipped.numpy()[0, 0].tolist() == [2, 1, 0]
    picture = pil(arange_image(2, 3, dtype=np.uint8))
    assert np.asarray(T.RandomHorizontalFlip(1.0)(picture)).tolist() == [[2, 1, 0], [5, 4, 3]]
    assert np.asarray(T.RandomVerticalFlip(1.0)(picture)).tolist() == [[3, 4, 5], [0, 1, 2]]


def test_a_flip_with_p_one_half_flips_about_half_the_time():
    gn.seed(0)
    flips = sum(T.RandomHorizontalFlip()(np.array([[0, 1]]))[0, 0] == 1 for _ in range(400))
    assert 160 < flips < 240


# -- RandomRotation and RandomAffine ---------------------------------------------------------


def test_rotation_by_90_degrees_with_expand_turns_left():
    image = arange_image(2, 3)  # not square: expand gives (3, 2)
    quarter = T.RandomRotation((90, 90), expand=True)
    np.testing.assert_array_equal(quarter(image), np.rot90(image))
    np.testing.assert_array_equal(np.asarray(quarter(pil(image, "F"))), np.rot90(image))
    np.testing.assert_array_equal(T.RandomRotation((-90, -90), expand=True)(image), np.rot90(image, -1))
    # a whisker away from 90 degrees takes the general path, and gives the same pixels (nearest)
    near = T.RandomRotation((89.9999, 89.9999))(arange_image(1, 3, 3))
    np.testing.assert_array_equal(near[0], np.rot90(arange_image(3, 3)))


def test_rotation_fills_what_it_uncovers():
    ones = np.ones((1, 5, 5), dtype=np.float32)
    out = T.RandomRotation((45, 45), fill=0.5)(ones)
    assert out[0, 2, 2] == 1.0 and out[0, 0, 0] == 0.5 and out[0, 0, 4] == 0.5
    grown = T.RandomRotation((45, 45), expand=True)(ones)
    assert grown.shape == (1, 9, 9) and grown[0, 0, 0] == 0 and grown[0, 4, 4] == 1  # Pillow's size too
    assert T.RandomRotation((45, 45), expand=True)(pil(ones[0], "F")).size == (9, 9)
    assert T.RandomRotation((30, 30), expand=True)(np.ones((1, 4, 6))).shape == (1, 8, 8)
    picture = T.RandomRotation((45, 45), fill=7)(pil(np.full((5, 5), 200, dtype=np.uint8)))
    assert np.asarray(picture)[0, 0] == 7 and np.asarray(picture)[2, 2] == 200


def test_rotation_samples_as_pytorch_grid_sample():
    torch = pytest.importorskip("torch")
    from glassnet.data.transforms import _inverse_affine_matrix

    image = np.random.default_rng(0).random((3, 5, 7), dtype=np.float32)
    for angle in (30.0, -75.0, 13.0):
        out = T.RandomRotation((angle, angle), interpolation=T.InterpolationMode.BILINEAR)(image)
        # torchvision's grid for the same inverse matrix: output pixel centres about the image centre
        matrix = torch.tensor(_inverse_affine_matrix((0, 0), -angle, (0, 0), 1.0, (0, 0)), dtype=torch.float64)
        xs, ys = torch.arange(7) - 3.0, torch.arange(5) - 2.0
        grid = torch.stack(torch.broadcast_tensors(xs[None, :], ys[:, None]) + (torch.ones(5, 7),), dim=-1)
        grid = (grid.double() @ matrix.view(2, 3).T) / torch.tensor([3.5, 2.5], dtype=torch.float64)
        theirs = torch.nn.functional.grid_sample(torch.from_numpy(image)[None], grid[None].float(), mode="bilinear",
                                                 padding_mode="zeros", align_corners=False)[0].numpy()
        np.testing.assert_allclose(out, theirs, atol=1e-6, err_msg=f"{angle} degrees")


def test_rotation_angles_stay_in_range_and_arguments_are_checked():
    gn.seed(0)
    angles = [T.RandomRotation.get_params([-10.0, 20.0]) for _ in range(200)]
    assert -10 <= min(angles) < -8 and 18 < max(angles) <= 20
    with pytest.raises(ValueError, match="RandomRotation: if degrees is a single number, it must be non-negative"):
        T.RandomRotation(-5)
    with pytest.raises(ValueError, match="RandomRotation: degrees must be a number or a sequence of 2 numbers"):
        T.RandomRotation((1, 2, 3))
    with pytest.raises(ValueError, match="BICUBIC"):
        T.RandomRotation(10, interpolation=T.InterpolationMode.BICUBIC)(np.zeros((1, 3, 3)))


def test_affine_rotates_clockwise_translates_by_whole_pixels_and_scales():
    image = arange_image(1, 3, 3)
    np.testing.assert_array_equal(T.RandomAffine((90, 90))(image)[0], np.rot90(image[0], -1))  # torchvision's affine
    np.testing.assert_array_equal(np.asarray(T.RandomAffine((90, 90))(pil(image[0], "F"))), np.rot90(image[0], -1))
    dot = np.zeros((1, 5, 5), dtype=np.float32)
    dot[0, 2, 2] = 1
    gn.seed(3)
    shifts = set()
    for _ in range(40):
        out = T.RandomAffine(0, translate=(0.4, 0.0))(dot)  # up to 0.4 * 5 = 2 pixels in x
        (row,), (col,) = np.nonzero(out[0])
        assert row == 2 and out.sum() == 1
        shifts.add(col - 2)
    assert shifts == {-2, -1, 0, 1, 2}
    zoomed = T.RandomAffine(0, scale=(3.0, 3.0))(dot)  # the centre pixel fills the middle 3x3
    assert zoomed[0, 1:4, 1:4].tolist() == np.ones((3, 3)).tolist() and zoomed.sum() == 9
    sheared = T.RandomAffine(0, shear=(45, 45))(np.ones((1, 3, 3), dtype=np.float32))
    assert sheared.shape == (1, 3, 3) and sheared[0, 1].tolist() == [1, 1, 1] and sheared.sum() < 9


def test_affine_of_a_pil_image_agrees_with_the_array_path_on_whole_pixel_shifts():
    image = np.random.default_rng(2).random((6, 7), dtype=np.float32)
    gn.seed(5)
    on_pil = [np.asarray(T.RandomAffine(0, translate=(0.3, 0.3))(pil(image, "F"))) for _ in range(5)]
    gn.seed(5)
    on_array = [T.RandomAffine(0, translate=(0.3, 0.3))(image) for _ in range(5)]
    for a, b in zip(on_pil, on_array):
        np.testing.assert_array_equal(a, b)


def test_affine_arguments_are_checked_and_shown():
    assert repr(T.RandomAffine(10, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=5)) == (
        "RandomAffine(degrees=[-10.0, 10.0], translate=(0.1, 0.1), scale=(0.9, 1.1), shear=[-5.0, 5.0])")
    with pytest.raises(ValueError, match=r"RandomAffine: translate must be a pair of fractions in \[0, 1\]"):
        T.RandomAffine(0, translate=(2, 0))
    with pytest.raises(ValueError, match="RandomAffine: scale must be a pair"):
        T.RandomAffine(0, scale=(0, 1))
    with pytest.raises(ValueError, match="shear must be a number or a sequence of 2 or 4 numbers"):
        T.RandomAffine(0, shear=(1, 2, 3))


# -- colour -----------------------------------------------------------------------------


def test_color_jitter_brightness_factor():
    image = np.full((3, 2, 2), 0.4, dtype=np.float32)
    np.testing.assert_allclose(T.ColorJitter(brightness=(0.5, 0.5))(image), 0.2, rtol=1e-6)
    np.testing.assert_allclose(T.ColorJitter(brightness=(3.0, 3.0))(image), 1.0)  # clipped to [0, 1]
    picture = T.ColorJitter(brightness=(0.5, 0.5))(pil(np.full((2, 2), 100, dtype=np.uint8)))
    assert np.asarray(picture).tolist() == [[50, 50], [50, 50]]
    gn.seed(0)
    for _ in range(50):
        factor = T.ColorJitter(brightness=0.5)(image)[0, 0, 0] / 0.4
        assert 0.5 - 1e-6 <= factor <= 1.5 + 1e-6


def test_color_jitter_contrast_saturation_and_hue():
    grey_ramp = np.array([[[0.2, 0.6]]], dtype=np.float32)  # mean 0.4
    np.testing.assert_allclose(T.ColorJitter(contrast=(0.5, 0.5))(grey_ramp), [[[0.3, 0.5]]], rtol=1e-6)
    assert T.ColorJitter(saturation=(0.0, 0.0))(grey_ramp) is grey_ramp  # one channel: nothing to desaturate
    red = np.zeros((3, 1, 1), dtype=np.float32)
    red[0] = 1.0
    np.testing.assert_allclose(T.ColorJitter(saturation=(0.0, 0.0))(red).ravel(), [0.2989] * 3, rtol=1e-5)
    np.testing.assert_allclose(T.ColorJitter(hue=(0.5, 0.5))(red).ravel(), [0, 1, 1], atol=1e-6)  # red -> cyan
    np.testing.assert_allclose(T.ColorJitter(hue=(1 / 3, 1 / 3))(red).ravel(), [0, 1, 0], atol=1e-5)  # -> green
    cyanish = np.asarray(T.ColorJitter(hue=(0.5, 0.5))(pil(np.array([[[255, 0, 0]]], dtype=np.uint8))))
    assert cyanish[0, 0, 0] < 10 and cyanish[0, 0, 1] > 245 and cyanish[0, 0, 2] > 245


def test_color_jitter_arguments_repr_and_order():
    assert repr(T.ColorJitter()) == "ColorJitter(brightness=None, contrast=None, saturation=None, hue=None)"
    assert repr(T.ColorJitter(brightness=2, hue=0.1)) == (
        "ColorJitter(brightness=[0.0, 3.0], contrast=None, saturation=None, hue=[-0.1, 0.1])")
    gn.seed(0)
    order, b, c, s, h = T.ColorJitter.get_params([0.5, 1.5], None, [1.0, 2.0], None)
    assert sorted(order) == [0, 1, 2, 3] and 0.5 <= b <= 1.5 and c is None and 1 <= s <= 2 and h is None
    with pytest.raises(ValueError, match="ColorJitter: if brightness is a single number, it must be non-negative"):
        T.ColorJitter(brightness=-1)
    with pytest.raises(ValueError, match=r"ColorJitter: hue values should be between -0.5 and 0.5"):
        T.ColorJitter(hue=0.7)
    with pytest.raises(ValueError, match="ColorJitter: expects images with 1 or 3 channels, got 2"):
        T.ColorJitter(brightness=0.5)(np.zeros((2, 3, 3), dtype=np.float32))


def test_grayscale():
    rgb = np.zeros((3, 1, 2), dtype=np.float32)
    rgb[:, 0, 0] = (1.0, 0.0, 0.0)
    rgb[:, 0, 1] = (0.0, 1.0, 1.0)
    grey = T.Grayscale()(rgb)
    assert grey.shape == (1, 1, 2)
    np.testing.assert_allclose(grey.ravel(), [0.2989, 0.701], rtol=1e-6)
    three = T.Grayscale(num_output_channels=3)(gn.tensor(rgb))
    assert isinstance(three, Tensor) and three.shape == (3, 1, 2) and np.all(three.numpy() == grey)
    picture = T.Grayscale()(pil(np.full((1, 1, 3), (255, 0, 0), dtype=np.uint8), "RGB"))
    assert picture.mode == "L" and np.asarray(picture)[0, 0] == 76  # 0.299 * 255
    assert T.Grayscale(3)(picture).mode == "RGB"
    with pytest.raises(ValueError, match="Grayscale: num_output_channels should be 1 or 3"):
        T.Grayscale(2)


# -- Compose, Lambda, repr ---------------------------------------------------------------


def test_compose_applies_in_order_and_lists_its_transforms():
    add_one, double = T.Lambda(lambda x: x + 1), T.Lambda(lambda x: x * 2)
    assert T.Compose([add_one, double])(3) == 8 and T.Compose([double, add_one])(3) == 7
    pipeline = T.Compose([T.RandomCrop(28, padding=4), T.RandomHorizontalFlip(), T.ToTensor(),
                          T.Normalize((0.1307,), (0.3081,))])
    assert repr(pipeline) == (
        "Compose(\n"
        "    RandomCrop(size=(28, 28), padding=4)\n"
        "    RandomHorizontalFlip(p=0.5)\n"
        "    ToTensor()\n"
        "    Normalize(mean=(0.1307,), std=(0.3081,))\n"
        ")")
    assert repr(T.Resize(32)) == "Resize(size=32, interpolation=bilinear, max_size=None, antialias=True)"
    assert repr(T.CenterCrop(10)) == "CenterCrop(size=(10, 10))"
    assert repr(T.RandomRotation(10)) == "RandomRotation(degrees=[-10.0, 10.0], interpolation=nearest, " \
                                         "expand=False, fill=0)"
    assert repr(T.Grayscale(3)) == "Grayscale(num_output_channels=3)"
    assert repr(T.Lambda(abs)) == "Lambda()"
    with pytest.raises(TypeError, match="Lambda: argument lambd should be callable, got 'int'"):
        T.Lambda(3)
    with pytest.raises(TypeError, match="Compose: transform 1 is not callable"):
        T.Compose([abs, 3])


# -- randomness -------------------------------------------------------------------------


def random_pipeline():
    return T.Compose([T.RandomCrop(6, padding=2), T.RandomHorizontalFlip(), T.RandomRotation(20),
                      T.RandomAffine(10, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=5),
                      T.ColorJitter(0.4, 0.4, 0.4, 0.1)])


def test_glassnet_seed_makes_the_random_transforms_reproducible():
    image = np.random.default_rng(0).random((3, 6, 6), dtype=np.float32)
    picture = pil((image.transpose(1, 2, 0) * 255).astype(np.uint8), "RGB")

    def run(seed):
        gn.seed(seed)
        pipeline = random_pipeline()
        arrays = [pipeline(image) for _ in range(5)]
        pictures = [np.asarray(pipeline(picture)) for _ in range(5)]
        return arrays + pictures

    first, again, other = run(7), run(7), run(8)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(first, other))


def test_transforms_leave_python_and_numpy_global_random_state_alone():
    random.seed(1)
    np.random.seed(1)
    python_state, numpy_state = random.getstate(), np.random.get_state()
    random_pipeline()(np.random.default_rng(0).random((3, 6, 6), dtype=np.float32))
    T.ColorJitter(hue=0.2)(pil(np.zeros((4, 4, 3), dtype=np.uint8), "RGB"))
    T.augmentation((3, 6, 6), flip=True)(np.zeros((4, 3, 6, 6), dtype=np.float32))
    assert random.getstate() == python_state
    after = np.random.get_state()
    assert after[0] == numpy_state[0] and np.array_equal(after[1], numpy_state[1]) and after[2:] == numpy_state[2:]


# -- with the DataLoader and a model -----------------------------------------------------------


class Pictures(Dataset):
    """A tutorial-style dataset: PIL images and labels, with a transform."""

    def __init__(self, transform=None):
        rng = np.random.default_rng(0)
        self.images = [Image.fromarray(rng.integers(0, 256, (10, 10), dtype=np.uint8)) for _ in range(12)]
        self.transform = transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        image = self.images[i]
        return (self.transform(image) if self.transform else image), i % 3


def test_a_dataloader_over_transformed_pil_images_feeds_a_model():
    transform = T.Compose([T.RandomRotation(10), T.RandomCrop(8, padding=1), T.Resize(8), T.ToTensor(),
                           T.Normalize((0.5,), (0.25,))])
    gn.seed(0)
    images, labels = next(iter(DataLoader(Pictures(transform), batch_size=5, shuffle=True)))
    assert isinstance(images, Tensor) and images.shape == (5, 1, 8, 8) and images.dtype == np.float32
    assert labels.dtype == np.int64 and labels.shape == (5,)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 6 * 6, 3))
    loss = nn.CrossEntropyLoss()(model(images), labels)
    loss.backward()
    assert np.isfinite(loss.item())
    # one transformed example is a Tensor a tutorial can unsqueeze into a batch of one
    image, _ = Pictures(transform)[0]
    assert model(image.unsqueeze(0)).shape == (1, 3)


# -- errors about what an image is --------------------------------------------------------------


def test_an_array_that_looks_hwc_is_refused_with_a_hint():
    with pytest.raises(ValueError, match=r"RandomCrop: this array looks like \(H, W, C\) \(32, 32, 3\).*ToTensor"):
        T.RandomCrop(28)(np.zeros((32, 32, 3), dtype=np.uint8))
    with pytest.raises(TypeError, match="CenterCrop: expects a PIL Image, a NumPy array or a glassnet Tensor, got list"):
        T.CenterCrop(2)([[1, 2], [3, 4]])


def test_arrays_need_no_pillow_and_importing_loads_none():
    code = (
        "import sys; sys.modules['PIL'] = None\n"
        "import numpy as np\n"
        "from glassnet.data import transforms as T\n"
        "t = T.Compose([T.RandomCrop(4, padding=1), T.RandomHorizontalFlip(), T.RandomRotation(10), "
        "T.ColorJitter(0.2), T.Normalize((0.5,), (0.5,))])\n"
        "print(t(np.zeros((1, 4, 4), dtype=np.float32)).shape)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(1, 4, 4)"
    loaded = subprocess.run([sys.executable, "-c", "import sys, glassnet.data.transforms; print('PIL' in sys.modules)"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert loaded.stdout.strip() == "False", loaded.stderr


# -- augmentation() for batches in memory ------------------------------------------------------


def test_augmentation_defaults_for_small_images():
    assert T.augmentation((1, 28, 28)).padding == 3 and not T.augmentation((1, 28, 28)).flip
    assert T.augmentation((3, 32, 32), flip=True).padding == 4 and T.augmentation((3, 32, 32), flip=True).flip
    assert T.augmentation((1, 8, 8)).padding == 1
    assert T.augmentation((28, 28), padding=2).padding == 2
    assert repr(T.augmentation((3, 32, 32), flip=True)) == \
        "BatchAugmentation(image_shape=(3, 32, 32), padding=4, flip=True, flip_p=0.5)"


def test_augmentation_shifts_each_image_on_its_own():
    batch = np.random.default_rng(0).random((40, 2, 5, 6), dtype=np.float32) + 1  # no zeros of its own
    augment = T.augmentation((2, 5, 6), padding=2)
    gn.seed(0)
    out = augment(batch)
    assert out.shape == batch.shape and out.dtype == np.float32 and out is not batch
    offsets = []
    for image, shifted in zip(batch, out):
        padded = np.pad(image, ((0, 0), (2, 2), (2, 2)))
        found = [k for k, window in enumerate(windows(padded, 5, 6)) if np.array_equal(window, shifted)]
        assert len(found) == 1
        offsets.append(found[0])
    assert len(set(offsets)) > 10  # per image, not one shift for the batch
    assert np.all(batch >= 1)  # the input is untouched


def test_augmentation_flips_only_when_asked():
    batch = np.broadcast_to(np.arange(5, dtype=np.float32), (200, 1, 1, 5)).copy()
    gn.seed(0)
    still = T.augmentation((1, 1, 5), padding=0)(batch)
    np.testing.assert_array_equal(still, batch)
    flipped = T.augmentation((1, 1, 5), padding=0, flip=True)(batch)
    mirrored = (flipped[:, 0, 0] == np.arange(5)[::-1]).all(axis=1)
    unchanged = (flipped[:, 0, 0] == np.arange(5)).all(axis=1)
    assert np.all(mirrored | unchanged) and 70 < mirrored.sum() < 130


def test_augmentation_is_reproducible_keeps_tensors_and_checks_shapes():
    batch = gn.tensor(np.random.default_rng(0).random((8, 1, 6, 6), dtype=np.float32))
    augment = T.augmentation((1, 6, 6), flip=True)
    gn.seed(4)
    first = augment(batch)
    gn.seed(4)
    again = augment(batch)
    assert isinstance(first, Tensor) and first.shape == (8, 1, 6, 6)
    np.testing.assert_array_equal(first.numpy(), again.numpy())
    own = T.augmentation((1, 6, 6), generator=np.random.default_rng(0))
    assert own(batch.numpy()[0]).shape == (1, 6, 6)  # one image works too
    with pytest.raises(ValueError, match=r"augmentation: expects a batch \(N, 1, 6, 6\) or one image, got shape"):
        augment(np.zeros((8, 6, 6, 1), dtype=np.float32))
    with pytest.raises(ValueError, match="augmentation: image_shape must be"):
        T.augmentation((1, 2, 3, 4))
