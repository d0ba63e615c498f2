"""``glassnet train --data PATH`` and ``glassnet predict``: a network on the user's own data.

    glassnet train --data houses.csv --target price --save runs/houses/model.safetensors
    glassnet train --data photos/ --image-size 64 --model resnet --augment flip --save runs/photos/model.safetensors
    glassnet train --data reviews.csv --text-column review --target stars --model transformer --save runs/reviews/model.safetensors
    glassnet predict --load runs/houses new_rows.csv

What ``--data`` holds decides the path (:func:`data_kind`): a table (CSV, TSV, Parquet), a
table of texts (with ``--text-column``), a folder of images or a folder of ``.txt`` files,
one subfolder per class. Each path prepares the data with the data layer
(:mod:`glassnet.data.tables`, :mod:`glassnet.data.images`, :mod:`glassnet.data.texts`),
trains with :func:`glassnet.train.fit`, then scores the held-out rows with
:mod:`glassnet.train.metrics` beside scikit-learn baselines where they exist, so the user
sees whether the network earns its keep. What prediction needs later (the fitted table
preprocessing, the vocabulary, the image size and mode, the class names) is saved as JSON
in the checkpoint's metadata, never pickled; ``metrics.json`` beside it holds the scores.
"""
import json
import os
import sys
import warnings

import numpy as np

from .. import models
from ..data import DataLoader
from ..nn import functional as F
from ..serialization import load, load_metadata
from ..train import fit
from ..train import metrics as scores
from ..train import predict as model_outputs
from ..train.run import CHECKPOINT, METRICS, VOCABULARY, plain_json
from . import progress_option

TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq", ".gz", ".bz2", ".xz", ".zip", ".zst")
ON_ERROR = {"stop": "raise", "skip": "skip"}  # --bad-images: what ImageFolder does at an unreadable file
IMAGE_MODELS = ("mlp", "cnn", "lenet5", "resnet", "vit", "lstm", "gru")


def data_kind(path, text_column=None):
    """'table', 'texts' or 'images': what ``--data PATH`` holds.

    A file is a table, or a table of texts when ``--text-column`` names its text. A folder
    holds texts when its class folders (or those of its ``train/``) hold ``.txt`` files,
    and images otherwise."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"--data {path}: no such file or folder")
    if os.path.isfile(path):
        return "texts" if text_column else "table"
    if text_column:
        raise ValueError(f"--text-column names a column of a table, but --data {path} is a folder")
    return "texts" if _holds_texts(path) else "images"


def _holds_texts(folder):
    root = os.path.join(folder, "train") if os.path.isdir(os.path.join(folder, "train")) else folder
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if entry.is_dir() and not entry.name.startswith("."):
            names = [name for name in os.listdir(entry.path) if not name.startswith(".")]
            if names:
                return all(name.lower().endswith(".txt") for name in names)
    return False


def train_own(args, optimizer_for, callbacks, loop=None):
    """``glassnet train --data``: the path for what the data is. ``optimizer_for(parameters)``
    makes the optimizer the command line asked for; ``callbacks`` are the command line's
    (the time budget, TensorBoard); ``loop(args, optimizer, loader, metadata, clip=None)``
    gives fit's loop options (the schedule, accumulation, clipping, step checkpoints,
    --resume, the save path and the metadata: :func:`glassnet.cli.training.loop_options`)."""
    kind = data_kind(args.data, args.text_column)
    if kind == "images" and args.target:
        raise ValueError(f"--target names a table's column, but --data {args.data} is a folder of images")
    run = {"table": _train_table, "images": _train_images, "texts": _train_texts}[kind]
    return run(args, optimizer_for, callbacks, loop or _save_only)


def _save_only(args, optimizer, loader, metadata, clip=None):
    return {"save_path": args.save, "metadata": metadata, "clip_grad_norm": clip}


# -- tables --------------------------------------------------------------------------------


def _train_table(args, optimizer_for, callbacks, loop):
    from ..data import tables
    from ..lab.baselines import table_baselines

    if not args.target:
        raise ValueError(f"--data {args.data} is a table: name the column to predict with --target")
    model_name = args.model or "mlp"
    if model_name != "mlp":
        raise ValueError(f"a table trains an mlp (its rows are feature vectors), not --model {model_name}")
    data = tables.prepare_table(args.data, args.target, task=args.task, val_split=args.val_split, seed=args.seed)
    print(data.report, flush=True)
    options = {"hidden": [128, 64], "dropout": 0.1}
    model = models.mlp((data.num_features,), data.num_outputs, **options)
    classify = data.task == "classify"
    metadata = {
        "kind": "table", "model": "mlp", "options": options, "input_shape": [data.num_features],
        "num_classes": data.num_outputs, "task": data.task, "target": data.target, "classes": data.classes,
        "preprocessor": json.loads(data.preprocessor.to_json()), "data": os.path.abspath(args.data),
    }
    _announce(args, "mlp", model, f"{data.task} {data.target!r}: {len(data.train)} train / {len(data.val)} validation rows, "
                            f"{data.num_features} features")
    loader, optimizer = _loader(data.train, args), optimizer_for(model.parameters())
    fit(model, loader, optimizer, epochs=args.epochs,
        loss=F.cross_entropy if classify else F.mse_loss, val=data.val if len(data.val) else None,
        val_label="val", progress=progress_option(args), callbacks=callbacks, **loop(args, optimizer, loader, metadata))
    if not len(data.val):
        return 0
    outputs = model_outputs(model, data.X_val)
    if classify:
        result = scores.classification_report(data.y_val, outputs.argmax(axis=1), classes=data.classes)
    else:
        result = scores.regression_report(data.y_val, data.preprocessor.decode_target(outputs))
    baselines = table_baselines(data.task, data.X_train, data.y_train, data.X_val, data.y_val,
                                classes=data.classes, seed=args.seed)
    _report_scores(args, "glassnet mlp", result, baselines, data.classes)
    return 0


# -- image folders ---------------------------------------------------------------------------


def _train_images(args, optimizer_for, callbacks, loop):
    from ..data import images, transforms

    model_name = args.model or "cnn"
    if model_name not in IMAGE_MODELS:
        raise ValueError(f"--data {args.data} holds images: choose an image model ({', '.join(IMAGE_MODELS)}), "
                         f"not --model {model_name}")
    size = (args.image_size, args.image_size) if args.image_size else None
    with warnings.catch_warnings(record=True) as caught:  # said once, as a note, not as a Python warning
        warnings.simplefilter("always")
        train_set, val_set, val_name = images.training_splits(args.data, size, val_split=args.val_split,
                                                              seed=args.seed, progress=progress_option(args),
                                                              on_error=ON_ERROR[args.bad_images])
    for warning in caught:
        print(f"glassnet: note: {warning.message}", file=sys.stderr)
    input_shape, classes = train_set.images.shape[1:], train_set.classes
    model = models.build(model_name, input_shape, len(classes))
    mode = "L" if input_shape[0] == 1 else "RGB"
    metadata = {
        "kind": "images", "model": model_name, "input_shape": list(input_shape), "num_classes": len(classes),
        "classes": list(classes), "mode": mode, "data": os.path.abspath(args.data),
        "val_split": args.val_split, "seed": args.seed,  # to find the same validation images again
        "bad_images": args.bad_images,
    }
    loader = _loader(train_set, args)
    if args.augment:
        loader = Augmented(loader, transforms.augmentation(input_shape, flip=args.augment == "flip"))
    _announce(args, model_name, model, f"{len(train_set)} train / {len(val_set) if val_set else 0} {val_name or 'validation'} "
                           f"images of {tuple(input_shape)}, {len(classes)} classes"
                           + (f", augmented ({args.augment})" if args.augment else ""))
    optimizer = optimizer_for(model.parameters())
    fit(model, loader, optimizer, epochs=args.epochs, val=val_set, val_label=val_name or "val",
        progress=progress_option(args), callbacks=callbacks, **loop(args, optimizer, loader, metadata))
    if val_set is not None:
        predicted = model_outputs(model, val_set.images).argmax(axis=1)
        _report_scores(args, f"glassnet {model_name}", scores.classification_report(val_set.labels, predicted, classes),
                       [], classes)
    return 0


class Augmented:
    """A loader whose input batches pass through ``augment`` (training only: the
    validation images are seen as they are)."""

    def __init__(self, loader, augment):
        self.loader, self.augment = loader, augment

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        for inputs, targets in self.loader:
            yield self.augment(inputs), targets

    def state_dict(self):  # where the loader underneath is (the augmentation draws from glassnet's generator)
        return self.loader.state_dict()

    def load_state_dict(self, state):
        self.loader.load_state_dict(state)


# -- texts -----------------------------------------------------------------------------------


def _train_texts(args, optimizer_for, callbacks, loop):
    from ..data import texts
    from ..lab.text_baseline import text_baseline

    model_name = args.model or "gru"
    if model_name not in models.TEXT_CLASSIFIERS:
        raise ValueError(f"--data {args.data} holds texts: choose a text classifier "
                         f"({', '.join(models.TEXT_CLASSIFIERS)}), not --model {model_name}")
    data = texts.read_texts(args.data, args.text_column, args.target)
    splits = texts.prepare_texts(data, tokenizer=args.tokens, max_length=args.max_length,
                                 val_fraction=args.val_split, seed=args.seed)
    print(splits.report, flush=True)
    options = {} if model_name == "transformer" else {"pooling": "mean"}  # the mean over the words learns faster
    model = models.text_classifier(model_name, splits.tokenizer.vocab_size, len(splits.classes),
                                   max_length=splits.max_length, **options)
    metadata = {
        **splits.metadata(), "kind": "texts", "model": model_name, "options": options,
        "tokenizer": json.loads(splits.tokenizer.to_json()), "data": os.path.abspath(args.data),
    }
    if args.save:  # the vocabulary beside the checkpoint too, where a person can read it
        os.makedirs(os.path.dirname(os.path.abspath(args.save)), exist_ok=True)
        splits.tokenizer.save(os.path.join(os.path.dirname(os.path.abspath(args.save)), VOCABULARY))
    val = splits.val
    _announce(args, model_name, model, f"{len(splits.train)} train / {len(val) if val else 0} validation texts of "
                                       f"{splits.max_length} {args.tokens} tokens, {len(splits.classes)} classes")
    loader, optimizer = _loader(splits.train, args), optimizer_for(model.parameters())
    fit(model, loader, optimizer, epochs=args.epochs, val=val, val_label="val", progress=progress_option(args),
        callbacks=callbacks, **loop(args, optimizer, loader, metadata, clip=1.0))
    if val is not None:
        predicted = model_outputs(model, val.ids).argmax(axis=1)
        baseline = text_baseline(splits.train.texts, splits.train.labels, val.texts, val.labels, seed=args.seed)
        baseline["f1_macro"] = baseline.pop("macro_f1")
        _report_scores(args, f"glassnet {model_name}", scores.classification_report(val.labels, predicted,
                                                                                     splits.classes),
                       [("tf-idf + logistic regression", baseline)], splits.classes)
    return 0


# -- shared -----------------------------------------------------------------------------------


def _loader(dataset, args):
    return DataLoader(dataset, batch_size=args.batch_size, shuffle=True, seed=args.seed)


def _announce(args, name, model, what):
    parameters = sum(p.numel() for p in model.parameters())
    print(f"glassnet: training {name} ({parameters:,} parameters) on "
          f"{args.data}: {what}; {args.optimizer} lr={args.lr:g}, batch {args.batch_size}, seed {args.seed}",
          flush=True)


def _report_scores(args, name, result, baselines, classes):
    """Print the network's held-out scores beside the baselines', and keep them in
    metrics.json beside the checkpoint."""
    rows = [(name, result)] + list(baselines)
    keys = ["accuracy", "f1_macro"] if "accuracy" in result else ["rmse", "mae", "r2"]
    width = max(len(row[0]) for row in rows)
    print("held-out scores:")
    print("  " + "model".ljust(width) + "".join(key.rjust(10) for key in keys))
    for row_name, row in rows:
        print("  " + row_name.ljust(width) + "".join(f"{row[key]:>10.4f}" for key in keys))
    if "confusion_matrix" in result:
        print(_confusion_text(result["confusion_matrix"], classes))
    if args.save:
        path = os.path.join(os.path.dirname(os.path.abspath(args.save)), METRICS)
        with open(path, "w") as f:
            json.dump({"model": result, "baselines": dict(baselines)}, f, indent=1, default=plain_json)
        print(f"scores saved to {path}")


def _confusion_text(matrix, classes, limit=12):
    """The confusion matrix as text (rows: true class, columns: predicted), for up to
    ``limit`` classes; more are in metrics.json only."""
    matrix = np.asarray(matrix)
    if len(matrix) > limit:
        return f"confusion matrix: {len(matrix)} classes, in {METRICS}"
    names = [str(c)[:8] for c in classes]
    width = max(6, *(len(n) for n in names))
    lines = ["confusion matrix (rows: true class, columns: predicted):",
             " " * (width + 2) + "".join(n.rjust(width + 1) for n in names)]
    for name, row in zip(names, matrix):
        lines.append("  " + name.rjust(width) + "".join(str(int(v)).rjust(width + 1) for v in row))
    return "\n".join(lines)


# -- predictions on new inputs -------------------------------------------------------------------


def predict_command(args):
    """``glassnet predict --load RUN INPUT...``: the top classes with their probabilities (or
    the predicted value) for image files, the rows of CSV files, or texts."""
    path = os.path.join(args.load, CHECKPOINT) if os.path.isdir(args.load) else args.load
    metadata = load_metadata(path)
    kind = metadata.get("kind") or ("language model" if metadata.get("model") in models.TEXT_MODELS else "images")
    if kind == "language model":
        raise ValueError(f"{path} holds a language model: use 'glassnet generate --load {args.load}'")
    if "model" not in metadata:
        raise ValueError(f"{path} does not say which model it holds (it was not saved by 'glassnet train')")
    model = _rebuild(metadata)
    load(path, model)
    names, inputs = {"table": _table_inputs, "images": _image_inputs, "texts": _text_inputs}[kind](args, metadata)
    outputs = model_outputs(model, inputs)
    if metadata.get("task") == "regress":
        from ..data.tables import TablePreprocessor

        values = TablePreprocessor.from_json(json.dumps(metadata["preprocessor"])).decode_target(outputs)
        rows = [{"input": name, "prediction": float(value)} for name, value in zip(names, np.ravel(values))]
    else:
        rows = [{"input": name, "top": top} for name, top in zip(names, _top_classes(outputs, metadata, args.top))]
    print(json.dumps(rows, indent=1) if args.json else _prediction_table(rows, metadata))
    return 0


def _rebuild(metadata):
    """The network a checkpoint's metadata describes, untrained, ready for ``load``."""
    if metadata.get("kind") == "table":
        return models.mlp(tuple(metadata["input_shape"]), metadata["num_classes"], **metadata["options"])
    if metadata.get("kind") == "texts":
        return models.text_classifier(metadata["model"], metadata["vocab_size"], metadata["num_classes"],
                                      max_length=metadata["max_length"], **metadata["options"])
    return models.build(metadata["model"], tuple(metadata["input_shape"]), metadata["num_classes"])


def _table_inputs(args, metadata):
    from ..data.tables import TablePreprocessor, read_table

    preprocessor = TablePreprocessor.from_json(json.dumps(metadata["preprocessor"]))
    names, features = [], []
    for table in args.inputs:
        frame = read_table(table)
        features.append(preprocessor.transform(frame))
        names += [f"{os.path.basename(table)}:{row}" for row in range(len(frame))]
    return names, np.concatenate(features)


def _image_inputs(args, metadata):
    from ..data.images import read_image

    channels, height, width = metadata["input_shape"]
    mode = metadata.get("mode") or ("L" if channels == 1 else "RGB")
    return list(args.inputs), np.stack([read_image(path, mode, (height, width)) for path in args.inputs])


def _text_inputs(args, metadata):
    from ..data.texts import Tokenizer

    tokenizer = Tokenizer.from_json(json.dumps(metadata["tokenizer"]))
    texts = list(args.inputs)
    if texts == ["-"]:
        texts = [line.rstrip("\n") for line in sys.stdin if line.strip()]
    ids = np.stack([tokenizer.encode(text, metadata["max_length"]) for text in texts])
    return [text if len(text) <= 40 else text[:37] + "..." for text in texts], ids


def _top_classes(outputs, metadata, k):
    """The ``k`` most probable classes of each output row: [(class name, probability), ...]."""
    shifted = outputs - outputs.max(axis=1, keepdims=True)
    probabilities = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    classes = metadata.get("classes") or [str(i) for i in range(outputs.shape[1])]
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    return [[(str(classes[i]), float(row[i])) for i in best] for row, best in zip(probabilities, order)]


def _prediction_table(rows, metadata):
    width = max(len("input"), *(len(row["input"]) for row in rows))
    if metadata.get("task") == "regress":
        lines = [f"{'input'.ljust(width)}  {metadata.get('target', 'prediction')}"]
        lines += [f"{row['input'].ljust(width)}  {row['prediction']:.6g}" for row in rows]
    else:
        lines = [f"{'input'.ljust(width)}  top classes (probability)"]
        lines += [row["input"].ljust(width) + "  " + ", ".join(f"{name} ({p:.1%})" for name, p in row["top"])
                  for row in rows]
    return "\n".join(lines)
