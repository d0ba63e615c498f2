"""``glassnet lr-find``: the learning-rate range test from the shell, before choosing ``--lr``.

    glassnet lr-find --model cnn --dataset digits --out runs/cnn/lr_find.png
    glassnet train --model cnn --dataset digits --lr <the suggestion>

The model, the data and the optimizer are built as ``glassnet train`` builds them (same
names, same seed), so the suggestion is for the run that command would make.
"""
import os

from .. import models, random
from ..data import DataLoader
from ..train.lr_find import RULES, lr_find
from . import make_optimizer, training_set


def lr_find_command(args):
    """Run :func:`glassnet.train.lr_find` on the model and data of ``args``, print what it
    found and write its plot as a PNG file."""
    if not 0 < args.start_lr < args.end_lr:
        raise ValueError(f"--start-lr must be above 0 and below --end-lr, got --start-lr {args.start_lr:g} "
                         f"--end-lr {args.end_lr:g}")
    _check_out(args.out)
    random.seed(args.seed)
    train_set = training_set(args)
    model = models.build(args.model, train_set.images.shape[1:], len(train_set.classes))
    optimizer = make_optimizer(args.optimizer, model.parameters(), args.start_lr, args.momentum, args.weight_decay)
    loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, seed=args.seed)
    parameter_count = sum(p.numel() for p in model.parameters())
    print(f"glassnet: lr-find for {args.model} ({parameter_count:,} parameters) on {args.dataset} "
          f"({len(train_set)} train images), {args.optimizer}, batch {args.batch_size}, seed {args.seed}: "
          f"{args.steps} steps from lr {args.start_lr:g} to {args.end_lr:g}", flush=True)
    result = lr_find(model, loader, optimizer, start_lr=args.start_lr, end_lr=args.end_lr, steps=args.steps)
    tried = len(result.lrs)
    if result.diverged_at is not None:
        print(f"the loss diverged at lr {result.diverged_at:.3g} (step {tried} of {args.steps}): "
              f"tried {result.lrs[0]:.3g} to {result.diverged_at:.3g}")
    else:
        print(f"the loss did not diverge: tried {result.lrs[0]:.3g} to {result.lrs[-1]:.3g}")
    other = next(rule for rule in RULES if rule != result.rule)
    print(f"suggested learning rate: {result.suggestion:.3g} ({result.rule}: {RULES[result.rule]}); "
          f"by the {other} rule: {result.suggest(other):.3g}")
    from ..inspect import plots  # matplotlib, only now that there is something to draw

    print(f"wrote {plots.save(result.plot(), args.out)}")
    return 0


def _check_out(path):
    """Refuse an --out path that cannot be written before the test runs, not after."""
    if os.path.isdir(path):
        raise ValueError(f"--out {path} is a folder; give a file in it, e.g. {os.path.join(path, 'lr_find.png')}")
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    if not os.access(folder, os.W_OK):
        raise ValueError(f"--out {path}: cannot write in {folder}")
