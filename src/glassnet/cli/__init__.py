"""The ``glassnet`` command: train, evaluate and look inside networks from the shell.

    glassnet lr-find --model mlp --dataset digits      # which --lr: the range test, lr_find.png
    glassnet train --model mlp --dataset digits --epochs 20 --save runs/mlp/model.safetensors
    glassnet evaluate --load runs/mlp/model.safetensors --dataset digits
    glassnet train --model gpt --epochs 20 --save runs/gpt/model.safetensors   # on the stdlib's source
    glassnet generate --load runs/gpt/model.safetensors --prompt "def " --tokens 300
    glassnet train --model cnn --dataset fashion-mnist --epochs 2 --health --save runs/cnn/model.safetensors
    glassnet inspect runs/cnn --what saliency        # PNG files in runs/cnn/inspect
    glassnet report runs/cnn                         # runs/cnn/report.html, one self-contained page
    glassnet compare --dataset fashion-mnist         # deep vs traditional learning, by training-set size
    glassnet lab linear-depth                        # one of the seed's claims, tested here (glassnet lab: the list)

The command parses first, then imports what it needs. glassnet.inspect (matplotlib, and
scikit-learn for the embeddings) is imported by the commands that draw, when they run, so
that ``glassnet train`` does not wait for it; the layers below it are light, and
``import glassnet`` has loaded them already.
"""
import argparse
import os
import sys

from .. import models, optim, random
from ..data import DataLoader, datasets, text
from ..data.registry import DATASETS, load_dataset
from ..extras import MissingExtra
from ..lab import compare as comparison  # its options; it imports its plots when it draws
from ..nn import functional as F
from ..serialization import load, load_metadata
from ..train import TensorBoard, TimeBudget, evaluate, fit
from ..train.run import CHECKPOINT, HEALTH, PICTURES, REPORT, load_run
from .lab import add_lab_arguments
from .distributed import abort_job, add_distributed_arguments, distribute, for_this_rank, training_loader
from .distributed import start as start_distributed, text_loader
from .training import add_loop_arguments, given_options, loop_options, resumed_args

OPTIMIZERS = {"adam": optim.Adam, "adamw": optim.AdamW, "sgd": optim.SGD, "rmsprop": optim.RMSprop}


def make_optimizer(name, parameters, lr, momentum=0.0, weight_decay=0.0):
    if name == "sgd":
        return optim.SGD(parameters, lr=lr, momentum=momentum, weight_decay=weight_decay)
    return OPTIMIZERS[name](parameters, lr=lr, weight_decay=weight_decay)


def check_save_path(path):
    """Refuse a --save path that cannot be written before training, not after an epoch."""
    if path is None:
        return
    if os.path.isdir(path):
        raise ValueError(f"--save {path} is a folder; give a file in it, e.g. {os.path.join(path, CHECKPOINT)}")
    folder = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(folder):  # save creates the missing folders: the first one that exists must be a folder
        folder = os.path.dirname(folder)
    if not os.path.isdir(folder):
        raise ValueError(f"--save {path}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"--save {path}: cannot write in {folder}")


def train(args):
    if args.resume:  # the run's own settings, from its checkpoint
        args = resumed_args(args)
    check_save_path(args.save)
    random.seed(args.seed)
    world = start_distributed(args)  # glassnet.distributed with --distributed, else None
    if args.data:
        from .own_data import train_own

        def optimizer_for(parameters):
            return make_optimizer(args.optimizer, parameters, args.lr, args.momentum, args.weight_decay)

        return train_own(args, optimizer_for, _budget(args) + _tensorboard(args), loop_options)
    args.model = args.model or "mlp"
    if args.model in models.TEXT_MODELS:
        return train_text(args, world)
    train_set = training_set(args)
    test_set = load_dataset(args.dataset, "test", args.data_root)
    input_shape, num_classes = train_set.images.shape[1:], len(train_set.classes)
    model = models.build(args.model, input_shape, num_classes)
    optimizer = make_optimizer(args.optimizer, model.parameters(), args.lr, args.momentum, args.weight_decay)
    optimizer = distribute(model, optimizer, world)
    loader = training_loader(train_set, args, world)
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
        model, loader, optimizer, epochs=args.epochs, val=test_set, val_label="test", initial_eval=True,
        progress=progress_option(args),
        callbacks=for_this_rank(_budget(args) + _health(args, test_set) + _tensorboard(args, test_set), world),
        **loop_options(args, optimizer, loader, metadata),
    )
    final = history.last
    print(f"final test accuracy: {final.get('val_acc', float('nan')):.2%}" + (f"  (saved to {args.save})" if args.save else ""))
    return 0


def training_set(args):
    """The training images of --dataset (train and lr-find): a random --train-size subset of
    them when asked, the same for a given seed."""
    train_set = load_dataset(args.dataset, "train", args.data_root)
    if args.train_size:
        keep = random.spawn(args.seed).permutation(len(train_set))[: args.train_size]
        train_set = datasets.ImageDataset(train_set.images[keep], train_set.labels[keep], train_set.classes,
                                          train_set.name, train_set.split)
    return train_set


def _lr_find(args):
    from .lr_find import lr_find_command

    return lr_find_command(args)


def _predict(args):
    from .own_data import predict_command

    return predict_command(args)


def _export(args):
    from .export import export_command  # glassnet.onnx; the onnx package itself only when it runs

    return export_command(args)


def progress_option(args):
    """--progress as fit takes it: None (auto: a bar only in a terminal), True or False."""
    return None if args.progress == "auto" else args.progress == "on"


def _budget(args):
    return [TimeBudget(args.time_budget * 60)] if args.time_budget else []


def _health(args, test_set):
    """The opt-in HealthMonitor; it writes health.json next to the checkpoint."""
    if not args.health:
        return []
    from ..inspect.health import HealthMonitor

    return [HealthMonitor(every=args.health_every, sample=test_set.images[:256])]


def _tensorboard(args, samples=None):
    """The opt-in TensorBoard event files; with --health, weight and gradient histograms too.
    ``samples``: the images whose predictions it draws (by default the validation data's)."""
    return [TensorBoard(args.tensorboard, histograms=args.health, samples=samples)] if args.tensorboard else []


def _read_corpus(path):
    if path:
        return text.text_file(path)
    return text.stdlib_text()


def sequence_loss(logits, targets):
    """Cross-entropy of the next token at every position: (N, T, V) against (N, T)."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def train_text(args, world=None):
    train_text_, val_text = _read_corpus(args.text)
    tokenizer = text.CharTokenizer(train_text_ + val_text)
    train_tokens, val_tokens = tokenizer.encode(train_text_), tokenizer.encode(val_text)
    options = {"context": args.context, "dim": args.dim, "depth": args.depth, "heads": args.heads}
    model = models.gpt(tokenizer.vocab_size, **options)
    optimizer = distribute(model, make_optimizer(args.optimizer, model.parameters(), args.lr, args.momentum,
                                                  args.weight_decay), world)
    loader = text.RandomWindows(train_tokens, args.context, args.batch_size, args.steps_per_epoch, seed=args.seed)
    loader = text_loader(loader, world)
    val = text.SequentialWindows(val_tokens, args.context, args.batch_size, max_batches=args.val_batches)
    source = args.text or "the Python standard library's source"
    print(
        f"glassnet: training gpt ({sum(p.numel() for p in model.parameters()):,} parameters) on {source}: "
        f"{len(train_tokens):,} train / {len(val_tokens):,} validation characters, vocabulary {tokenizer.vocab_size}, "
        f"context {args.context}, {args.optimizer} lr={args.lr:g}, batch {args.batch_size}, seed {args.seed}",
        flush=True,
    )
    metadata = {"model": "gpt", "options": options, "chars": "".join(tokenizer.chars), "text": source}
    history = fit(
        model, loader, optimizer, epochs=args.epochs, val=val, loss=sequence_loss, progress=progress_option(args),
        callbacks=for_this_rank(_budget(args) + _tensorboard(args), world),
        **loop_options(args, optimizer, loader, metadata, clip=1.0),
    )
    print(f"final validation loss: {history.last.get('val_loss', float('nan')):.4f} nats/char"
          + (f"  (saved to {args.save})" if args.save else ""))
    return 0


def _load_gpt(path):
    metadata = load_metadata(path)
    if metadata.get("model") != "gpt":
        holds = f"it holds {metadata['model']!r}" if "model" in metadata else "it was not saved by 'glassnet train --model gpt'"
        raise ValueError(f"{path} does not hold a gpt model ({holds})")
    tokenizer = text.CharTokenizer(metadata["chars"])
    model = models.gpt(tokenizer.vocab_size, **metadata["options"])
    load(path, model)
    return model, tokenizer


def generate_command(args):
    model, tokenizer = _load_gpt(args.load)
    random.seed(args.seed)
    prompt = tokenizer.encode(args.prompt)
    tokens = model.generate(prompt, args.tokens, temperature=args.temperature, top_k=args.top_k)
    print(tokenizer.decode(tokens))
    return 0


def evaluate_command(args):
    metadata = load_metadata(args.load)
    if metadata.get("model") in models.TEXT_MODELS:
        model, tokenizer = _load_gpt(args.load)
        _, val_text = _read_corpus(args.text)
        val = text.SequentialWindows(tokenizer.encode(val_text), model.context, 32, max_batches=20)
        result = evaluate(model, val, loss=sequence_loss)
        print(f"gpt on {args.text or 'the stdlib source'} (validation): loss {result['loss']:.4f} nats/char, "
              f"next-character accuracy {result['acc']:.2%}")
        return 0
    if "model" not in metadata:
        raise ValueError(f"{args.load} does not say which model it holds (it was not saved by 'glassnet train')")
    if metadata.get("kind") and not args.dataset:  # trained with --data: its own folder's split
        run = load_run(args.load)  # a table's or texts' run says where their scores are
        dataset_name, test_set = metadata["data"], run.dataset(args.split)
    else:
        dataset_name = args.dataset or metadata.get("dataset")
        test_set = load_dataset(dataset_name, args.split, args.data_root)
    if list(test_set.images.shape[1:]) != list(metadata["input_shape"]):
        raise ValueError(
            f"the model in {args.load} takes inputs of shape {tuple(metadata['input_shape'])}, "
            f"but {dataset_name} images are {tuple(test_set.images.shape[1:])}"
        )
    model = models.build(metadata["model"], tuple(metadata["input_shape"]), metadata["num_classes"])
    load(args.load, model)
    result = evaluate(model, test_set)
    print(f"{metadata['model']} on {dataset_name} ({args.split}, {len(test_set)} images): loss {result['loss']:.4f}, accuracy {result['acc']:.2%}")
    return 0


def inspect_command(args):
    """Write the pictures of one view of a saved run as PNG files and print its numbers."""
    from ..inspect import plots
    from ..inspect import report as reports

    run = load_run(args.run_dir)
    view = reports.show(run, args.what, images=args.images, data_root=args.data_root, index=args.index,
                        layer=args.layer, unit=args.unit, method=args.method, epsilon=args.epsilon)
    out = args.out or os.path.join(run.directory, PICTURES)
    os.makedirs(out, exist_ok=True)
    for name, figure in view.figures.items():
        print(f"wrote {plots.save(figure, os.path.join(out, name + '.png'))}")
    if view.text:
        print(view.text)
    return 0


def report_command(args):
    from ..inspect import report as reports

    path = reports.report(args.run_dir, args.out, images=args.images, tsne=args.tsne, data_root=args.data_root)
    print(f"wrote {path} ({os.path.getsize(path) / 1e6:.1f} MB): open it in a browser")
    return 0


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse prints the usage too; an error is one line here, as every other
        report_error(f"{message} (see '{self.prog} --help')")
        self.exit(2)


def report_error(message):
    """The one way the command reports an error: one line on stderr, no traceback."""
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    print(f"glassnet: error: {' '.join(lines)}", file=sys.stderr)


def message(error):
    """An exception's message; a KeyError's without the quotes ``str`` adds around it."""
    return str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)


class ViewNames:
    """The choices of ``glassnet inspect --what``: the names of :data:`glassnet.inspect.report.VIEWS`,
    read when argparse first needs them (to check a value, or to print ``inspect --help``),
    so that the other commands start without importing glassnet.inspect."""

    def names(self):
        from ..inspect.report import VIEWS

        return list(VIEWS)

    def __iter__(self):
        return iter(self.names())

    def __contains__(self, name):
        return name in self.names()


def count(minimum):
    """An argparse type: a whole number of at least ``minimum``."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value
    return parse


def build_parser():
    parser = _Parser(prog="glassnet", description="Deep learning you can see through.")
    commands = parser.add_subparsers(dest="command", required=True)

    t = commands.add_parser("train", help="train a model and print a per-epoch table")
    t.add_argument("--text", default=None, help="gpt: a text file to learn (default: the stdlib's .py files)")
    t.add_argument("--context", type=count(1), default=128, help="gpt: characters of context")
    t.add_argument("--dim", type=count(1), default=128, help="gpt: embedding width")
    t.add_argument("--depth", type=count(1), default=4, help="gpt: transformer blocks")
    t.add_argument("--heads", type=count(1), default=4, help="gpt: attention heads")
    t.add_argument("--steps-per-epoch", type=count(1), default=200, help="gpt: batches of random windows per epoch")
    t.add_argument("--val-batches", type=count(1), default=20, help="gpt: validation batches of consecutive windows")
    t.add_argument("--time-budget", type=float, default=None, help="stop after the epoch that passes this many minutes")
    t.add_argument("--model", default=None, choices=models.available() + ["transformer"],
                   help="default: mlp (built-in data sets and tables), cnn (image folders), gru (texts)")
    t.add_argument("--dataset", default="digits", choices=sorted(DATASETS))
    own = t.add_argument_group("your own data (instead of --dataset)")
    own.add_argument("--data", default=None, metavar="PATH",
                     help="a CSV/TSV/Parquet table, or a folder with one subfolder of images or .txt files per class "
                          "(train/ and val/ or test/ subfolders are used when present)")
    own.add_argument("--target", default=None, help="a table's column to predict")
    own.add_argument("--task", default=None, choices=["classify", "regress"], help="default: from the target column")
    own.add_argument("--val-split", type=float, default=0.2,
                     help="fraction held out for validation when the data has no val/ or test/ split (stratified)")
    own.add_argument("--image-size", type=count(1), default=None, help="resize images to this many pixels square")
    own.add_argument("--augment", nargs="?", const="shift", default=None, choices=["shift", "flip"],
                     help="image training batches: random shifts (shift), and left-right flips too (flip)")
    own.add_argument("--bad-images", default="stop", choices=["stop", "skip"],
                     help="an image file that cannot be read: stop with its name (default), or skip it and say how many")
    own.add_argument("--text-column", default=None, help="a table of texts: the column holding the text")
    own.add_argument("--tokens", default="word", choices=["word", "char"], help="texts: word- or character-level")
    own.add_argument("--max-length", type=count(1), default=None, help="texts: tokens kept per text")
    t.add_argument("--epochs", type=count(0), default=10, help="0: only evaluate the untrained network")
    t.add_argument("--batch-size", type=count(1), default=64,
                   help="examples per optimizer step; with --distributed the global batch, split over the ranks")
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--optimizer", default="adam", choices=sorted(OPTIMIZERS))
    t.add_argument("--momentum", type=float, default=0.9, help="for sgd")
    t.add_argument("--weight-decay", type=float, default=0.0)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--save", default=None, help="checkpoint path (.safetensors); the history goes next to it")
    t.add_argument("--data-root", default=None, help="folder with the IDX files of mnist / fashion-mnist")
    t.add_argument("--train-size", type=count(1), default=None, help="train on a random subset of this many images")
    t.add_argument("--progress", default="auto", choices=["auto", "on", "off"], help="progress bar (auto: only in a terminal)")
    t.add_argument("--health", action="store_true", help=f"record per-layer gradient norms, weights, activations and dead units ({HEALTH} next to --save)")
    t.add_argument("--health-every", type=count(1), default=10, help="with --health: record gradient norms every this many steps")
    t.add_argument("--tensorboard", default=None, metavar="DIR",
                   help="write TensorBoard event files to DIR (see them with: tensorboard --logdir DIR); "
                        "--health adds weight and gradient histograms")
    add_loop_arguments(t)  # --schedule, --accumulate, --clip-grad, --checkpoint-every, --resume
    add_distributed_arguments(t)  # --distributed
    t.set_defaults(run=train)

    e = commands.add_parser("evaluate", help="evaluate a saved model")
    e.add_argument("--load", required=True, help="checkpoint saved by 'glassnet train --save'")
    e.add_argument("--dataset", default=None, choices=sorted(DATASETS), help="default: the one it was trained on")
    e.add_argument("--split", default="test", choices=["train", "test"],
                   help="test: the test set, or for a run trained with --data the images it held out")
    e.add_argument("--data-root", default=None)
    e.add_argument("--text", default=None, help="gpt: the text file it was trained on (default: the stdlib's source)")
    e.set_defaults(run=evaluate_command)

    g = commands.add_parser("generate", help="sample text from a trained gpt")
    g.add_argument("--load", required=True, help="checkpoint saved by 'glassnet train --model gpt --save'")
    g.add_argument("--prompt", default="def ")
    g.add_argument("--tokens", type=count(0), default=300, help="characters to generate")
    g.add_argument("--temperature", type=float, default=0.8)
    g.add_argument("--top-k", type=count(1), default=None)
    g.add_argument("--seed", type=int, default=0)
    g.set_defaults(run=generate_command)

    p = commands.add_parser("predict", help="predict classes (or values) for new images, table rows or texts")
    p.add_argument("--load", required=True, help="a run folder or checkpoint saved by 'glassnet train --save'")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="image files, CSV/TSV files of new rows, or texts (- reads one text per line from stdin)")
    p.add_argument("--top", type=count(1), default=3, help="classes shown per input")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=_predict)

    f = commands.add_parser("lr-find", help="the learning-rate range test: which --lr to train with (a PNG plot)")
    f.add_argument("--model", default="mlp", choices=sorted(models.IMAGE_MODELS))
    f.add_argument("--dataset", default="digits", choices=sorted(DATASETS))
    f.add_argument("--data-root", default=None, help="folder with the IDX files of mnist / fashion-mnist")
    f.add_argument("--train-size", type=count(1), default=None, help="use a random subset of this many images")
    f.add_argument("--batch-size", type=count(1), default=64)
    f.add_argument("--optimizer", default="adam", choices=sorted(OPTIMIZERS))
    f.add_argument("--momentum", type=float, default=0.9, help="for sgd")
    f.add_argument("--weight-decay", type=float, default=0.0)
    f.add_argument("--steps", type=count(2), default=100, help="training steps, the learning rate growing at each")
    f.add_argument("--start-lr", type=float, default=1e-7)
    f.add_argument("--end-lr", type=float, default=10.0)
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--out", default="lr_find.png", help="the plot, a PNG file (default: lr_find.png here)")
    f.set_defaults(run=_lr_find)

    i = commands.add_parser("inspect", help="draw one view inside a saved run (PNG files)")
    i.add_argument("run_dir", metavar="RUN_DIR", help=f"the folder 'glassnet train --save RUN_DIR/{CHECKPOINT}' wrote")
    what = i.add_argument("--what", required=True, help="which picture(s)")
    what.choices = ViewNames()  # set after add_argument, which would read them at once to check its metavar
    i.add_argument("--out", default=None, help=f"folder for the PNG files (default: RUN_DIR/{PICTURES})")
    i.add_argument("--index", type=int, default=0, help="the test image to explain (attributions show 8 from here)")
    i.add_argument("--layer", default=None, help="a layer name (filters, features, top, gradcam)")
    i.add_argument("--unit", type=int, default=0, help="top: the unit (or channel) of --layer")
    i.add_argument("--method", default="pca", choices=["pca", "tsne"], help="embedding: how to squeeze to 2-D")
    i.add_argument("--epsilon", type=float, default=0.1, help="adversarial: the FGSM perturbation size")
    i.add_argument("--images", type=int, default=300, help="test images for top, embedding, robustness, transforms")
    i.add_argument("--data-root", default=None)
    i.set_defaults(run=inspect_command)

    r = commands.add_parser("report", help="write one self-contained HTML page about a saved run")
    r.add_argument("run_dir", metavar="RUN_DIR")
    r.add_argument("--out", default=None, help=f"the HTML file (default: RUN_DIR/{REPORT})")
    r.add_argument("--images", type=int, default=300, help="test images for the attacks and embeddings")
    r.add_argument("--tsne", action="store_true", help="add t-SNE embeddings (slower) to the PCA ones")
    r.add_argument("--data-root", default=None)
    r.set_defaults(run=report_command)

    x = commands.add_parser("export", help="write a saved model as an ONNX file, checked in onnxruntime")
    x.add_argument("--load", required=True, help="a run folder or checkpoint saved by 'glassnet train --save'")
    x.add_argument("--out", default=None, help="the .onnx file (default: model.onnx beside the checkpoint)")
    x.add_argument("--opset", type=count(17), default=17, help="the ONNX operator set, 17 or later")
    x.set_defaults(run=_export)

    c = commands.add_parser("compare", help="deep vs traditional learning at growing training-set sizes")
    comparison.add_compare_arguments(c)
    c.set_defaults(run=comparison.compare_command)

    add_lab_arguments(commands.add_parser("lab", help="the seed's claims, each tested on this machine (a PNG, a JSON, a page)"))
    return parser


def main(argv=None):
    parser = build_parser()
    try:
        args = parser.parse_args(argv)  # in here: checking `inspect --what` imports glassnet.inspect
        if getattr(args, "resume", None):  # which flags the command line gave, to check them against the run's
            args.given = given_options(argv)
        return args.run(args)
    except (OSError, KeyError, ValueError, RuntimeError, FloatingPointError, MissingExtra) as error:
        abort_job(message(error))  # one rank of several: names itself and ends the job (never returns)
        report_error(message(error))
        return 1

