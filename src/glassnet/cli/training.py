"""``glassnet train``'s loop options: learning-rate schedules, gradient accumulation and
clipping, step checkpoints, and ``--resume``.

    glassnet train --model cnn --epochs 10 --schedule onecycle --lr 3e-3 --save runs/cnn/model.safetensors
    glassnet train --model cnn --accumulate 4 --clip-grad 1.0 --checkpoint-every 50 --save runs/cnn/model.safetensors
    glassnet train --resume runs/cnn                  # goes on where it stopped, with the settings it had
    glassnet train --resume runs/cnn --epochs 20      # and on, up to 20 epochs in all

Every training path (the built-in data sets, gpt, and ``--data``) passes
:func:`loop_options` to :func:`glassnet.train.fit`. It records the command's settings in
the checkpoint's metadata (``train_args``), so that ``--resume RUN`` rebuilds the same
model, data, optimizer and schedule from the checkpoint alone (:func:`resumed_args`),
before ``fit(..., resume=...)`` puts back the run's state.
"""
import argparse
import math
import os

from .. import optim
from ..serialization import load_metadata
from ..train.run import CHECKPOINT, checkpoint_path_for

SCHEDULES = ("none", "cosine", "step", "onecycle", "warmup-cosine")
ENDING_SCHEDULES = ("cosine", "onecycle", "warmup-cosine")  # they end at a set step: past it they mean nothing
# what --resume may change: how long, how it is shown and saved; never the maths of the run
MAY_CHANGE_ON_RESUME = ("epochs", "progress", "time_budget", "checkpoint_every", "tensorboard", "save")
PATHS = ("save", "data", "text", "data_root")  # recorded absolute, so --resume works from any folder
NOT_SETTINGS = ("run", "resume", "given", "command")


def add_loop_arguments(parser):
    """The train command's options for the loop: schedule, accumulation, clipping,
    checkpoints and resuming."""
    loop = parser.add_argument_group("the training loop")
    loop.add_argument(
        "--schedule", default="none", choices=SCHEDULES,
        help="learning-rate schedule: none; cosine (per epoch, from --lr down to 0 over --schedule-epochs); "
             "step (per epoch, times --gamma every --step-size epochs); onecycle (per step: up from --lr/25 to --lr "
             "over the first --pct-start of the steps, then down to --lr/25e4, momentum the other way); "
             "warmup-cosine (per step: linear warm-up over --warmup-steps, then cosine down to 0)")
    loop.add_argument("--schedule-epochs", type=_count(1), default=None, metavar="N",
                      help="the epochs the run is planned for, which the schedule spans (default: --epochs); "
                           "more than --epochs trains the first part now, and --resume goes on up to N")
    loop.add_argument("--step-size", type=_count(1), default=10, metavar="EPOCHS", help="step: epochs between decays")
    loop.add_argument("--gamma", type=float, default=0.1, help="step: the factor of each decay")
    loop.add_argument("--warmup-steps", type=_count(1), default=None, metavar="N",
                      help="warmup-cosine: optimizer steps of linear warm-up (default: 5%% of all steps)")
    loop.add_argument("--pct-start", type=float, default=0.3, metavar="FRACTION",
                      help="onecycle: the fraction of the steps spent raising the learning rate")
    loop.add_argument("--accumulate", type=_count(1), default=1, metavar="N",
                      help="sum the gradients of N batches before each optimizer step: the step of one batch N "
                           "times larger (exactly, without batch norm), in the memory of one; schedules and step "
                           "counts count optimizer steps")
    loop.add_argument("--clip-grad", type=float, default=None, metavar="MAX_NORM",
                      help="scale the gradients down to this total L2 norm when above it (gpt and texts: 1.0 "
                           "unless given)")
    loop.add_argument("--checkpoint-every", type=_count(1), default=None, metavar="STEPS",
                      help="with --save: also save the checkpoint every this many optimizer steps (each save "
                           "replaces the last whole, so a run killed at any moment can be resumed)")
    loop.add_argument("--resume", default=None, metavar="RUN",
                      help=f"go on with the run saved in RUN (its folder or its {CHECKPOINT}) exactly where it "
                           "stopped, with the settings recorded in it: no other flag is needed. --epochs N trains on "
                           "up to N epochs in all (default: the run's --epochs, or its --schedule-epochs when "
                           "larger); --progress, --time-budget (minutes "
                           "in all, the run's earlier time counted), --checkpoint-every, --tensorboard and --save "
                           "(to continue in another folder) may change; any other flag must match the run's. The "
                           "history goes on in history.jsonl and history.csv")


def loop_options(args, optimizer, loader, metadata, clip=None):
    """The keyword arguments of :func:`glassnet.train.fit` that the loop flags ask for:
    the schedule, accumulation, clipping (``clip`` when ``--clip-grad`` is not given),
    step checkpoints, resuming, the save path, and the metadata with the command's
    settings added (``train_args``)."""
    if args.checkpoint_every and not args.save:
        raise ValueError("--checkpoint-every saves the checkpoint to --save; help: give --save too")
    steps_per_epoch = math.ceil(len(loader) / args.accumulate)
    scheduler, interval = make_schedule(args, optimizer, steps_per_epoch)
    return {
        "scheduler": scheduler, "scheduler_interval": interval, "accumulate": args.accumulate,
        "clip_grad_norm": args.clip_grad if args.clip_grad is not None else clip,
        "checkpoint_every": args.checkpoint_every, "resume": args.resume, "save_path": args.save,
        "metadata": dict(metadata, train_args=settings(args)),
    }


def make_schedule(args, optimizer, steps_per_epoch):
    """The scheduler ``--schedule`` names, over ``--schedule-epochs`` (default ``--epochs``),
    and whether it steps each ``'epoch'`` or each optimizer ``'step'``."""
    epochs = max(args.schedule_epochs or args.epochs, 1)
    lr_scheduler = optim.lr_scheduler
    if args.schedule == "none":
        return None, "epoch"
    if args.schedule == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs), "epoch"
    if args.schedule == "step":
        return lr_scheduler.StepLR(optimizer, step_size=args.step_size, gamma=args.gamma), "epoch"
    total = epochs * steps_per_epoch
    if args.schedule == "onecycle":
        defaults = optimizer.defaults
        cycle_momentum = "betas" in defaults or defaults.get("momentum", 0) > 0  # never adds momentum where none was
        # one point more than the run's steps: the step after the last (the lr the history's last row
        # shows) is the cycle's end, not past it
        return lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=total + 1, pct_start=args.pct_start,
                                       cycle_momentum=cycle_momentum), "step"
    warmup = args.warmup_steps if args.warmup_steps is not None else max(1, round(0.05 * total))
    if warmup >= total:
        raise ValueError(f"--warmup-steps {warmup} leaves no step for the cosine: the run has {total} optimizer steps "
                         f"({epochs} epochs of {steps_per_epoch}); help: fewer warm-up steps")
    warm = lr_scheduler.LinearLR(optimizer, start_factor=1 / warmup, total_iters=warmup)
    decay = lr_scheduler.CosineAnnealingLR(optimizer, T_max=total - warmup)
    return lr_scheduler.SequentialLR(optimizer, [warm, decay], milestones=[warmup]), "step"


def settings(args):
    """The command's settings as JSON, to rebuild the run on ``--resume``: its paths made
    absolute, and the schedule's length fixed (it does not grow with a later --epochs)."""
    values = {key: value for key, value in vars(args).items()
              if key not in NOT_SETTINGS and (value is None or isinstance(value, (bool, int, float, str)))}
    for key in PATHS:
        if values.get(key):
            values[key] = os.path.abspath(values[key])
    values["schedule_epochs"] = args.schedule_epochs or args.epochs
    return values


def resumed_args(args):
    """The settings of the run ``--resume`` names, as the parsed arguments of the command
    that trained it, with the flags that may change (:data:`MAY_CHANGE_ON_RESUME`) taken
    from this command line. A flag given now that would change the run is an error that
    names it."""
    path = checkpoint_path_for(args.resume)
    saved = load_metadata(path).get("train_args")
    if saved is None:
        raise ValueError(f"cannot resume {path} from the command line: its checkpoint does not record the settings it "
                         "was trained with (it was saved from Python, or by an older glassnet); help: resume it from "
                         f"Python with the same setup: gn.train.fit(..., resume={path!r})")
    given = getattr(args, "given", None)
    if given is None:  # called without main's parse: the values that differ from the defaults count as given
        defaults = _train_defaults()
        given = {key: value for key, value in vars(args).items()
                 if key not in NOT_SETTINGS and key in defaults and value != defaults[key]}
    given = {key: os.path.abspath(value) if key in PATHS and value else value for key, value in given.items()}
    conflicts = [f"--{key.replace('_', '-')} {value} (the run's: {saved.get(key)})" for key, value in given.items()
                 if key not in MAY_CHANGE_ON_RESUME + NOT_SETTINGS and key in saved and saved[key] != value]
    if conflicts:
        raise ValueError(f"--resume {args.resume} trains on with the settings recorded in the run, and these differ: "
                         f"{', '.join(conflicts)}; help: leave them out, or start a new run (another --save) to "
                         f"change them; only {', '.join('--' + k.replace('_', '-') for k in MAY_CHANGE_ON_RESUME)} "
                         "may change on resuming")
    values = {**{k: v for k, v in vars(args).items() if k not in ("given",)}, **saved}
    values.update({key: value for key, value in given.items() if key in MAY_CHANGE_ON_RESUME})
    if "epochs" not in given:  # up to the end of the run as planned
        values["epochs"] = max(saved["epochs"], saved["schedule_epochs"])
    values["save"] = given.get("save") or path
    values["resume"] = path
    if values["schedule"] in ENDING_SCHEDULES and values["epochs"] > values["schedule_epochs"]:
        raise ValueError(f"--epochs {values['epochs']} would go past the end of this run's {values['schedule']} "
                         f"schedule, which spans {values['schedule_epochs']} epochs; help: train up to "
                         f"{values['schedule_epochs']} epochs, or plan a longer run from the start with "
                         "--schedule-epochs")
    return argparse.Namespace(**values)


def given_options(argv):
    """The train command's options that ``argv`` gives (not their defaults): the command
    line is parsed again by a parser whose train command has no defaults."""
    parser, train = _train_parser()
    for action in train._actions:
        action.default = argparse.SUPPRESS
    train._defaults.clear()
    return {key: value for key, value in vars(parser.parse_args(argv)).items() if key not in NOT_SETTINGS}


def _train_defaults():
    _, train = _train_parser()
    return {action.dest: action.default for action in train._actions}


def _train_parser():
    """A new ``glassnet`` parser, and its train command's (argparse keeps subcommands in
    its subparsers action)."""
    from . import build_parser

    parser = build_parser()
    commands = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    return parser, commands.choices["train"]


def _count(minimum):
    from . import count

    return count(minimum)
