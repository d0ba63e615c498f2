"""The ``glassnet`` command: train and evaluate networks from the shell.

    glassnet train --model mlp --dataset digits --epochs 20 --save runs/mlp/model.safetensors
    glassnet evaluate --load runs/mlp/model.safetensors --dataset digits
"""
import argparse
import sys

from . import models, optim, random
from .data import DataLoader, datasets
from .serialization import load, load_metadata
from .train import evaluate, fit

DATASETS = {"digits": datasets.digits, "mnist": datasets.mnist, "fashion-mnist": datasets.fashion_mnist}
OPTIMIZERS = {"adam": optim.Adam, "adamw": optim.AdamW, "sgd": optim.SGD, "rmsprop": optim.RMSprop}


def load_dataset(name, split, root=None):
    if name not in DATASETS:
        raise SystemExit(f"glassnet: unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    if name == "digits":
        return DATASETS[name](split)
    return DATASETS[name](split, root=root)


def make_optimizer(name, parameters, lr, momentum=0.0, weight_decay=0.0):
    if name == "sgd":
        return optim.SGD(parameters, lr=lr, momentum=momentum, weight_decay=weight_decay)
    return OPTIMIZERS[name](parameters, lr=lr, weight_decay=weight_decay)


def train(args):
    random.seed(args.seed)
    train_set = load_dataset(args.dataset, "train", args.data_root)
    test_set = load_dataset(args.dataset, "test", args.data_root)
    input_shape, num_classes = train_set.images.shape[1:], len(train_set.classes)
    model = models.build(args.model, input_shape, num_classes)
    optimizer = make_optimizer(args.optimizer, model.parameters(), args.lr, args.momentum, args.weight_decay)
    loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, seed=args.seed)
    scheduler = None
    if args.schedule == "cosine":
        scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    parameter_count = sum(p.numel() for p in model.parameters())
    print(
        f"glassnet: training {args.model} ({parameter_count:,} parameters) on {args.dataset} "
        f"({len(train_set)} train / {len(test_set)} test images), {args.optimizer} lr={args.lr:g}, "
        f"batch {args.batch_size}, seed {args.seed}",
        flush=True,
    )
    metadata = {
        "model": args.model, "input_shape": list(input_shape), "num_classes": num_classes,
        "dataset": args.dataset, "classes": list(train_set.classes),
    }
    history = fit(
        model, loader, optimizer, epochs=args.epochs, val=test_set, scheduler=scheduler,
        save_path=args.save, metadata=metadata, val_label="test", initial_eval=True,
        progress=None if args.progress == "auto" else args.progress == "on",
    )
    final = history.last
    print(f"final test accuracy: {final.get('val_acc', float('nan')):.2%}" + (f"  (saved to {args.save})" if args.save else ""))
    return 0


def evaluate_command(args):
    metadata = load_metadata(args.load)
    if "model" not in metadata:
        raise SystemExit(f"glassnet: {args.load} does not say which model it holds (it was not saved by 'glassnet train')")
    dataset_name = args.dataset or metadata.get("dataset")
    test_set = load_dataset(dataset_name, args.split, args.data_root)
    if list(test_set.images.shape[1:]) != list(metadata["input_shape"]):
        raise SystemExit(
            f"glassnet: the model in {args.load} takes inputs of shape {tuple(metadata['input_shape'])}, "
            f"but {dataset_name} images are {tuple(test_set.images.shape[1:])}"
        )
    model = models.build(metadata["model"], tuple(metadata["input_shape"]), metadata["num_classes"])
    load(args.load, model)
    result = evaluate(model, test_set)
    print(f"{metadata['model']} on {dataset_name} ({args.split}, {len(test_set)} images): loss {result['loss']:.4f}, accuracy {result['acc']:.2%}")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="glassnet", description="Deep learning you can see through.")
    commands = parser.add_subparsers(dest="command", required=True)

    t = commands.add_parser("train", help="train a model and print a per-epoch table")
    t.add_argument("--model", default="mlp", choices=models.available())
    t.add_argument("--dataset", default="digits", choices=sorted(DATASETS))
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--optimizer", default="adam", choices=sorted(OPTIMIZERS))
    t.add_argument("--momentum", type=float, default=0.9, help="for sgd")
    t.add_argument("--weight-decay", type=float, default=0.0)
    t.add_argument("--schedule", default="none", choices=["none", "cosine"], help="learning-rate schedule over the epochs")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--save", default=None, help="checkpoint path (.safetensors); the history goes next to it")
    t.add_argument("--data-root", default=None, help="folder with the IDX files of mnist / fashion-mnist")
    t.add_argument("--progress", default="auto", choices=["auto", "on", "off"], help="progress bar (auto: only in a terminal)")
    t.set_defaults(run=train)

    e = commands.add_parser("evaluate", help="evaluate a saved model")
    e.add_argument("--load", required=True, help="checkpoint saved by 'glassnet train --save'")
    e.add_argument("--dataset", default=None, choices=sorted(DATASETS), help="default: the one it was trained on")
    e.add_argument("--split", default="test", choices=["train", "test"])
    e.add_argument("--data-root", default=None)
    e.set_defaults(run=evaluate_command)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (FileNotFoundError, ValueError, RuntimeError, FloatingPointError) as error:
        print(f"glassnet: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
