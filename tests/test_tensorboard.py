"""TensorBoard: what the callback writes is what TensorBoard's own reader finds, and it is
the history's numbers: the step losses, the epoch metrics, every parameter's histograms,
the predictions drawn on the validation images."""
import io
import sys

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import glassnet as gn
from glassnet import cli, nn
from glassnet.data import DataLoader, TensorDataset
from glassnet.train.tensorboard import prediction_grid

EVERYTHING = {"scalars": 0, "histograms": 0, "images": 0, "tensors": 0}  # 0: keep every event, not a sample


def read_run(folder):
    """TensorBoard's view of one run folder."""
    return EventAccumulator(str(folder), size_guidance=EVERYTHING).Reload()


def scalars(run, tag):
    return [(event.step, event.value) for event in run.Scalars(tag)]


def blobs(n=64, seed=0):
    """Three classes of 4-feature points that a small network separates in a few epochs."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    features = rng.standard_normal((n, 4)).astype(np.float32) + 2.0 * np.eye(3, 4, dtype=np.float32)[labels]
    return TensorDataset(features, labels)


def train(callback, epochs=2, data=None, val=None, model=None, **options):
    gn.seed(0)
    data = data or blobs()
    model = model or nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    optimizer = gn.optim.SGD(model.parameters(), lr=0.1)
    loader = DataLoader(data, batch_size=8, shuffle=True, seed=0)
    history = gn.train.fit(model, loader, optimizer, epochs=epochs, val=val, callbacks=[callback],
                           out=io.StringIO(), progress=False, **options)
    return model, history


def test_step_and_epoch_scalars_are_the_history(tmp_path):
    _, history = train(gn.train.TensorBoard(tmp_path, every=3), val=blobs(24, seed=1), initial_eval=True)
    steps = [step for record in history.epochs for step in record.get("step_losses", [])]  # 16 steps
    train_run, val_run = read_run(tmp_path / "train"), read_run(tmp_path / "val")
    assert sorted(train_run.Tags()["scalars"]) == ["epoch/accuracy", "epoch/loss", "epoch/lr",
                                                   "step/accuracy", "step/loss", "step/lr"]
    assert sorted(val_run.Tags()["scalars"]) == ["epoch/accuracy", "epoch/loss"]
    # every 3 steps, from the first: the loss of that very batch
    logged = scalars(train_run, "step/loss")
    assert [step for step, _ in logged] == [1, 4, 7, 10, 13, 16]
    np.testing.assert_allclose([value for _, value in logged], [steps[s - 1] for s, _ in logged], rtol=1e-6)
    assert [value for _, value in scalars(train_run, "step/lr")] == pytest.approx([0.1] * 6)
    assert all(0.0 <= value <= 1.0 for _, value in scalars(train_run, "step/accuracy"))
    # every epoch, epoch 0 (the untrained network) included, on the axis of epochs
    for run, prefix in ((train_run, "train"), (val_run, "val")):
        for name, key in (("loss", "loss"), ("accuracy", "acc")):
            logged = scalars(run, f"epoch/{name}")
            assert [step for step, _ in logged] == [0, 1, 2]
            np.testing.assert_allclose([value for _, value in logged], history[f"{prefix}_{key}"], rtol=1e-6)
    assert history["val_loss"][-1] < history["val_loss"][0]  # it learned: the curves have a shape
    assert train_run.Tags()["histograms"] == [] and val_run.Tags()["images"] == []


def test_a_run_of_no_epochs_logs_the_untrained_network(tmp_path):
    _, history = train(gn.train.TensorBoard(tmp_path), epochs=0, val=blobs(24, seed=1), initial_eval=True)
    assert scalars(read_run(tmp_path / "val"), "epoch/loss") == [(0, pytest.approx(history["val_loss"][0]))]


def test_histograms_of_every_weight_and_gradient_when_asked(tmp_path):
    model, _ = train(gn.train.TensorBoard(tmp_path, histograms=True))
    run = read_run(tmp_path / "train")
    names = [name for name, _ in model.named_parameters()]
    assert sorted(run.Tags()["histograms"]) == sorted([f"weights/{n}" for n in names] + [f"gradients/{n}" for n in names])
    for name, parameter in model.named_parameters():
        weights = run.Histograms(f"weights/{name}")
        assert [event.step for event in weights] == [1, 2]  # one per epoch
        assert [event.step for event in run.Histograms(f"gradients/{name}")] == [1, 2]
        last, values = weights[-1].histogram_value, parameter.numpy()
        assert last.num == values.size  # the weights at the end of training, every one counted
        assert (last.min, last.max) == pytest.approx((values.min(), values.max()))
        assert last.sum == pytest.approx(values.sum(), rel=1e-5, abs=1e-5)
    assert not (tmp_path / "val").exists()  # no validation data: no validation run


def digits(n):
    data = gn.datasets.digits("test")
    return gn.datasets.ImageDataset(data.images[:n], data.labels[:n], data.classes, "digits")


def test_validation_images_are_drawn_with_their_predictions(tmp_path):
    val = digits(40)
    callback = gn.train.TensorBoard(tmp_path, samples=val, max_images=6)
    model, _ = train(callback, data=digits(96), val=val, model=gn.models.mlp((1, 8, 8), 10), epochs=2)
    run = read_run(tmp_path / "val")
    assert run.Tags()["images"] == ["predictions"]
    images = run.Images("predictions")
    assert [image.step for image in images] == [1, 2]
    # the last picture is that of the trained model's predictions, pixel for pixel (PNG is lossless)
    from PIL import Image

    predicted = gn.train.predict(model, val.images[:6]).argmax(axis=1)
    expected = prediction_grid(val.images[:6], predicted, val.labels[:6], val.classes)
    drawn = np.asarray(Image.open(io.BytesIO(images[-1].encoded_image_string)).convert("RGB"))
    assert (images[-1].height, images[-1].width) == expected.shape[:2]
    np.testing.assert_array_equal(drawn, expected)


def test_the_trainers_validation_images_are_used_when_it_exposes_them(tmp_path):
    val = digits(20)
    gn.seed(0)
    model = gn.models.mlp((1, 8, 8), 10)
    trainer = gn.train.Trainer(model, gn.optim.SGD(model.parameters(), lr=0.1), out=io.StringIO(), progress=False,
                               callbacks=[gn.train.TensorBoard(tmp_path, max_images=4)])
    trainer.val_loader = DataLoader(val, batch_size=8)  # what the loop hands callbacks as trainer.val_loader
    trainer.fit(DataLoader(digits(32), batch_size=16), epochs=1, val=val)
    (image,) = read_run(tmp_path / "val").Images("predictions")
    assert (image.height, image.width) == prediction_grid(val.images[:4], val.labels[:4], val.labels[:4]).shape[:2]


def test_a_run_without_pillow_logs_everything_but_the_images(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL.ImageDraw", None)  # import PIL.ImageDraw now fails
    val = digits(16)
    with pytest.warns(UserWarning, match=r"needs PIL, which is not installed: pip install 'glassnet\[data\]'"):
        train(gn.train.TensorBoard(tmp_path, samples=val), data=digits(32), val=val,
              model=gn.models.mlp((1, 8, 8), 10), epochs=1)
    run = read_run(tmp_path / "val")
    assert run.Tags()["images"] == [] and "epoch/loss" in run.Tags()["scalars"]


def test_bad_arguments_are_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(TypeError, match="TensorBoard: log_dir must be a folder path .* got int"):
        gn.train.TensorBoard(3)
    with pytest.raises(ValueError, match="TensorBoard: every must be a whole number of at least 1, got 0"):
        gn.train.TensorBoard(tmp_path, every=0)
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="is a file; give a folder"):
        gn.train.TensorBoard(tmp_path / "file")
    with pytest.raises(ValueError, match=r"samples must be labelled images, .*; got images \(10, 4\)"):
        gn.train.TensorBoard(tmp_path, samples=blobs(10))
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match=r"TensorBoard logging needs tensorboardX, .*'glassnet\[tensorboard\]'"):
        gn.train.TensorBoard(tmp_path)


def test_the_train_command_writes_tensorboard_files(tmp_path, capsys):
    log_dir = tmp_path / "tb"
    assert cli.main(["train", "--model", "mlp", "--dataset", "digits", "--epochs", "2", "--train-size", "128",
                     "--batch-size", "32", "--tensorboard", str(log_dir), "--health", "--progress", "off"]) == 0
    train_run, test_run = read_run(log_dir / "train"), read_run(log_dir / "test")  # the CLI calls it the test set
    assert [step for step, _ in scalars(train_run, "step/loss")] == [1]  # 4 steps an epoch, logged every 10
    assert [step for step, _ in scalars(test_run, "epoch/accuracy")] == [0, 1, 2]
    final = capsys.readouterr().out.splitlines()[-1]  # "final test accuracy: 61.00%"
    assert f"{scalars(test_run, 'epoch/accuracy')[-1][1]:.2%}" in final
    histograms = train_run.Tags()["histograms"]  # --health: of every parameter
    assert sorted(histograms) == sorted(f"{kind}/{name}" for kind in ("weights", "gradients")
                                        for name, _ in gn.models.mlp((1, 8, 8), 10).named_parameters())
    assert test_run.Tags()["images"] == ["predictions"]


def test_the_train_command_on_a_table_writes_tensorboard_files(tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    size = rng.uniform(0, 10, 60)
    pd.DataFrame({"size": size, "kind": np.where(size > 5, "big", "small")}).to_csv(tmp_path / "t.csv", index=False)
    log_dir = tmp_path / "tb"
    assert cli.main(["train", "--data", str(tmp_path / "t.csv"), "--target", "kind", "--epochs", "2",
                     "--tensorboard", str(log_dir), "--progress", "off"]) == 0
    assert [step for step, _ in scalars(read_run(log_dir / "val"), "epoch/loss")] == [1, 2]
    assert "step/loss" in read_run(log_dir / "train").Tags()["scalars"]


def test_a_tensorboard_folder_that_is_a_file_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "tb").write_text("")
    assert cli.main(["train", "--dataset", "digits", "--epochs", "1", "--tensorboard", str(tmp_path / "tb")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("glassnet: error: TensorBoard: log_dir") and len(err.splitlines()) == 1
