"""TensorBoard: watch a run in the browser while it trains.

    fit(model, loader, optimizer, epochs=10, val=test_set,
        callbacks=[TensorBoard("runs/tb/cnn", histograms=True, samples=test_set)])
    # and in a shell:  tensorboard --logdir runs/tb

:class:`TensorBoard` is a callback; tensorboardX (``pip install 'glassnet[tensorboard]'``)
writes its event files. ``log_dir`` holds two TensorBoard runs, so that each chart draws
the training curve and the validation curve together (over-fitting is the moment they part):

- ``train/``: every ``every`` steps ``step/loss``, ``step/accuracy`` and ``step/lr`` (on the
  axis of global steps); every epoch ``epoch/loss``, ``epoch/accuracy`` and ``epoch/lr`` (on
  the axis of epochs: the numbers of the table ``fit`` prints); with ``histograms=True``
  ``weights/<parameter>`` at the end of each epoch and ``gradients/<parameter>`` of its first
  step;
- the validation run, named as the trainer names its validation data (``val/``, ``test/``):
  ``epoch/loss`` and ``epoch/accuracy``, and ``predictions``, an image of a few validation
  images with the predicted class under each, green when right and red when wrong
  (drawing it needs Pillow, ``pip install 'glassnet[data]'``).
"""
import numbers
import os
import warnings
from collections.abc import Iterable

import numpy as np

from ..extras import MissingExtra, require
from ..tensor import Tensor
from .callbacks import Callback
from .loop import _correct, predict

TRAIN = "train"
EPOCH_NAMES = {"acc": "accuracy"}  # the history's short names, spelled out on the charts


class TensorBoard(Callback):
    """Log a run to TensorBoard event files in ``log_dir`` (see the module's description).

    Args:
        log_dir: the folder for this run's event files; give each run its own (TensorBoard
            merges the files of one folder), under one parent that ``tensorboard --logdir``
            shows side by side.
        every: log the step scalars at steps 1, 1 + every, 1 + 2 * every, ...
        histograms: also log weight and gradient histograms of every parameter (a little
            time per epoch).
        samples: validation examples whose predictions are drawn at the end of each epoch:
            a Dataset (an ``ImageDataset``), a DataLoader or an ``(images, labels)`` pair,
            images of shape (N, C, H, W) with 1 or 3 channels; the first ``max_images`` are
            used. By default the trainer's validation data (``trainer.val_loader``) when it
            is images.
        classes: the class names under the images; by default those of the samples' Dataset
            (``classes``), else the class numbers.
        max_images: how many sample images to draw.

    The step accuracy is that of the batch, from the logits the loop passes in
    ``logs["logits"]`` (a trainer of another make that passes none: from one forward pass,
    in eval mode, after the step).
    """

    def __init__(self, log_dir, every=10, histograms=False, samples=None, classes=None, max_images=16):
        if not isinstance(log_dir, (str, os.PathLike)):
            raise TypeError(f"TensorBoard: log_dir must be a folder path (str or os.PathLike), got {type(log_dir).__name__}")
        if os.path.isfile(log_dir):
            raise ValueError(f"TensorBoard: log_dir {os.fspath(log_dir)!r} is a file; give a folder for the event files")
        for name, value in (("every", every), ("max_images", max_images)):
            if not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"TensorBoard: {name} must be a whole number of at least 1, got {value!r}")
        self._summary_writer = require("tensorboardX", "TensorBoard logging", extra="tensorboard").SummaryWriter
        self.log_dir, self.every, self.histograms, self.max_images = os.fspath(log_dir), every, histograms, max_images
        self.classes = classes
        # checked now, so that wrong samples are said before training rather than after an epoch
        self.samples = None if samples is None else _image_samples(samples, max_images, strict=True)
        self._classes_of(samples)
        self.writers, self._logged, self._gradient_epoch = {}, 0, None

    # -- the callback ----------------------------------------------------------------------

    def on_train_begin(self, trainer):
        self.val_run = trainer.val_label
        self._logged = len(trainer.history.epochs)  # a resumed run's earlier epochs are in its own files
        if self.samples is None:
            val_loader = getattr(trainer, "val_loader", None)
            self.samples = _image_samples(val_loader, self.max_images, strict=False)
            self._classes_of(val_loader)
        if self.samples is not None:
            try:
                require("PIL.ImageDraw", "drawing TensorBoard's sample images", extra="data")
            except MissingExtra as error:
                warnings.warn(f"{error}; TensorBoard logs the rest without them", stacklevel=2)
                self.samples = None
        self._writer(TRAIN)  # the folder appears at once, for a `tensorboard --logdir` already watching

    def on_after_backward(self, trainer, step):
        if not self.histograms or self._gradient_epoch == trainer.epoch:
            return
        self._gradient_epoch = trainer.epoch  # the first step of each epoch: no copy of the gradients to keep
        for name, parameter in trainer.model.named_parameters():
            if parameter.grad is not None:
                _histogram(self._writer(TRAIN), f"gradients/{name}", parameter.grad.numpy(), trainer.epoch)

    def on_batch_end(self, trainer, step, logs):
        if (step - 1) % self.every:
            return
        writer = self._writer(TRAIN)
        writer.add_scalar("step/loss", logs["loss"], step)
        writer.add_scalar("step/lr", trainer.optimizer.param_groups[0]["lr"], step)
        logits = logs.get("logits")
        if logits is None:
            logits = Tensor(predict(trainer.model, logs["inputs"]))
        right, made = _correct(logits, logs["targets"])
        if made:
            writer.add_scalar("step/accuracy", right / made, step)

    def on_divergence(self, trainer, epoch, step, loss):
        self.flush()  # the steps that led there are what a person wants to look at

    def on_epoch_end(self, trainer, epoch, logs):
        self._log_epochs(trainer)
        if self.histograms:
            for name, parameter in trainer.model.named_parameters():
                _histogram(self._writer(TRAIN), f"weights/{name}", parameter.numpy(), epoch)
        if self.samples is not None:
            self._log_predictions(trainer.model, epoch)
        self.flush()  # TensorBoard shows each epoch as it ends

    def on_train_end(self, trainer):
        self._log_epochs(trainer)  # the epoch-0 row of a run of 0 epochs
        self.close()

    # -- writing ---------------------------------------------------------------------------

    def flush(self):
        for writer in self.writers.values():
            writer.flush()

    def close(self):
        for writer in self.writers.values():
            writer.close()
        self.writers = {}

    def _classes_of(self, samples):
        """The class names of a Dataset, or of a DataLoader's, unless given."""
        if self.classes is None:
            self.classes = getattr(samples, "classes", None) or getattr(getattr(samples, "dataset", None), "classes", None)

    def _writer(self, run):
        if run not in self.writers:
            self.writers[run] = self._summary_writer(os.path.join(self.log_dir, run))
        return self.writers[run]

    def _log_epochs(self, trainer):
        """The history's records not logged yet: this epoch's, and before it the epoch-0 row
        of ``initial_eval``, which no callback hears of."""
        for record in trainer.history.epochs[self._logged:]:
            for key, value in record.items():
                run, name = _epoch_scalar(key, self.val_run)
                if run and isinstance(value, numbers.Real) and not isinstance(value, bool):
                    self._writer(run).add_scalar(f"epoch/{name}", value, record["epoch"])
        self._logged = len(trainer.history.epochs)

    def _log_predictions(self, model, epoch):
        images, labels = self.samples
        logits = predict(model, images)
        if logits.ndim != 2:  # not one score per class: nothing to name under the images
            return
        grid = prediction_grid(images, logits.argmax(axis=1), labels, self.classes)
        self._writer(self.val_run).add_image("predictions", grid, epoch, dataformats="HWC")


def _epoch_scalar(key, val_run):
    """(run, chart name) of an epoch record's key: train_loss -> (train, loss),
    val_acc -> (val_run, accuracy), lr -> (train, lr); (None, None) for what is not a curve."""
    if key == "lr":
        return TRAIN, key
    prefix, _, name = key.partition("_")
    if prefix in (TRAIN, "val") and name:
        return (TRAIN if prefix == TRAIN else val_run), EPOCH_NAMES.get(name, name)
    return None, None


def _histogram(writer, tag, values, step):
    values = values[np.isfinite(values)]  # a histogram of NaN has no bins
    if values.size:
        writer.add_histogram(tag, values, step)


def _image_samples(samples, limit, strict):
    """``(images, labels)``: up to ``limit`` labelled images (N, C, H, W) of 1 or 3 channels
    from a Dataset, a loader or a pair of arrays; None when there are none (or, with
    ``strict``, a ValueError that says what was given)."""
    if samples is None:
        return None
    from ..data import DataLoader, Dataset

    if isinstance(samples, Dataset):
        samples = DataLoader(samples, batch_size=limit)
    batch = next(iter(samples), None) if isinstance(samples, Iterable) and not isinstance(samples, tuple) else samples
    given = type(samples).__name__
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        images, labels = (np.asarray(a.numpy() if isinstance(a, Tensor) else a) for a in batch)
        if images.ndim == 4 and images.shape[1] in (1, 3) and labels.shape == images.shape[:1] and labels.dtype.kind in "iu":
            return images[:limit], labels[:limit]
        given = f"images {images.shape} and labels {labels.dtype} {labels.shape}"
    if strict:
        raise ValueError("TensorBoard: samples must be labelled images, a Dataset, a DataLoader or an (images, labels) "
                         f"pair of images (N, C, H, W) with C 1 or 3 and integer labels (N,); got {given}")
    return None


def prediction_grid(images, predicted, labels, classes=None, columns=4, tile=96):
    """The images (N, C, H, W), ``columns`` to a row, each enlarged towards ``tile`` pixels
    and framed green when ``predicted`` equals ``labels`` and red when not, with the
    predicted class under it in the frame's colour and the true one beneath: an (H, W, 3)
    uint8 array, as ``SummaryWriter.add_image(..., dataformats="HWC")`` takes it.

    >>> grid = prediction_grid(np.zeros((5, 1, 8, 8)), np.array([0, 1, 2, 3, 4]), np.array([0, 1, 2, 3, 0]))
    >>> grid.shape, grid.dtype
    ((284, 600, 3), dtype('uint8'))
    """
    Image = require("PIL.Image", "drawing TensorBoard's sample images", extra="data")
    ImageDraw = require("PIL.ImageDraw", "drawing TensorBoard's sample images", extra="data")
    pictures = _displayable(np.asarray(images))
    scale = max(1, tile // max(pictures.shape[1:3]))  # nearest neighbour: 8x8 digits stay crisp
    height, width = pictures.shape[1] * scale, pictures.shape[2] * scale
    frame, line, gap = 3, 12, 8
    cell_w, cell_h = max(width + 2 * frame, 140), height + 2 * frame + 2 * line + 4
    rows = -(-len(pictures) // columns)
    canvas = Image.new("RGB", (gap + min(columns, len(pictures)) * (cell_w + gap), gap + rows * (cell_h + gap)), (32, 32, 32))
    draw = ImageDraw.Draw(canvas)
    names = [str(name) for name in classes] if classes is not None else None
    for i, (picture, guess, truth) in enumerate(zip(pictures, predicted, labels)):
        x, y = gap + (i % columns) * (cell_w + gap), gap + (i // columns) * (cell_h + gap)
        colour = (60, 200, 90) if guess == truth else (230, 70, 60)
        draw.rectangle([x, y, x + width + 2 * frame - 1, y + height + 2 * frame - 1], fill=colour)
        canvas.paste(Image.fromarray(picture).resize((width, height), Image.NEAREST), (x + frame, y + frame))
        text_y = y + height + 2 * frame + 2
        draw.text((x, text_y), "predicted: " + _name(guess, names), fill=colour)
        draw.text((x, text_y + line), "true: " + _name(truth, names), fill=(220, 220, 220))
    return np.asarray(canvas)


def _name(label, names, width=18):
    name = names[label] if names is not None and 0 <= label < len(names) else str(int(label))
    return name if len(name) <= width else name[: width - 1] + "…"


def _displayable(images):
    """(N, C, H, W) images as (N, H, W, 3) uint8: values in [0, 1] as they are, any others
    (normalized inputs) stretched to [0, 1] image by image."""
    images = np.nan_to_num(images.astype(np.float32))
    if images.size and (images.min() < 0 or images.max() > 1):
        low = images.min(axis=(1, 2, 3), keepdims=True)
        images = (images - low) / np.maximum(images.max(axis=(1, 2, 3), keepdims=True) - low, 1e-12)
    if images.shape[1] == 1:
        images = images.repeat(3, axis=1)
    return (images.transpose(0, 2, 3, 1) * 255).round().astype(np.uint8)
