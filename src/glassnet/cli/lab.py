"""``glassnet lab``: the seed's claims, each tested by one command on this machine.

    glassnet lab                          # the claims, one a line
    glassnet lab linear-depth             # run one: its number, its verdict, runs/lab/linear-depth.{png,json}
    glassnet lab --all --out runs/lab     # all twelve, and runs/lab/index.html, one page with them all

Each run also rewrites ``OUT/index.html`` from the claims' files in ``OUT``: running the claims
one at a time builds the same page.
"""
import os

from ..lab.claims import CLAIMS

DEFAULT_OUT = os.path.join("runs", "lab")


def add_lab_arguments(parser):
    """The options of ``glassnet lab``."""
    parser.add_argument("name", nargs="?", default=None, metavar="NAME",
                        help="the claim to test (without a name and without --all: list the claims)")
    parser.add_argument("--all", action="store_true", help="test every claim and write one HTML page, index.html")
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"folder for the PNG, JSON and HTML files (default: {DEFAULT_OUT})")
    parser.add_argument("--quick", action="store_true",
                        help="less data and fewer steps (seconds, not minutes): the effect's direction, not its size")
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(run=lab_command)


def list_claims():
    width = max(len(name) for name in CLAIMS)
    for claim in CLAIMS.values():
        print(f"{claim.name:<{width}}  {claim.statement}")
    print(f"\nrun one: glassnet lab NAME; all of them, with a page: glassnet lab --all --out {DEFAULT_OUT}")


def say(text):
    print(text, flush=True)


def lab_command(args):
    if args.all and args.name:
        raise ValueError(f"give a claim's name or --all, not both (got {args.name!r} and --all)")
    if not args.all and not args.name:
        list_claims()
        return 0
    if args.all:
        return _run_all(args)
    from ..lab import claims
    from ..lab.page import write_page

    claim = claims.claim(args.name)
    say(f"glassnet lab {claim.name}: {claim.statement}")
    finding = claims.run(claim.name, quick=args.quick, seed=args.seed, log=lambda text: say(f"  {text}"))
    png, json_path = claims.save(finding, args.out)
    say(finding.line())
    written = [path for path in (png, json_path, write_page(args.out)) if path]
    say(f"wrote {', '.join(written)}")
    return 0


def _run_all(args):
    from ..lab.page import run_all

    results, path = run_all(args.out, quick=args.quick, seed=args.seed, log=say)
    failed = [name for name, finding in results.items() if isinstance(finding, Exception)]
    held = [name for name, finding in results.items() if name not in failed and finding.held]
    say(f"\n{len(held)} of {len(results)} claims held here; wrote {path}")
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(results)} claims could not run: {', '.join(failed)} "
                           "(the page says why)")
    return 0
