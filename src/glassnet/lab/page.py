"""The lab's page: every claim's picture and numbers from one run, in the order of the text
glassnet grew from (``glassnet lab --all --out DIR`` writes ``DIR/index.html``).

The page links each claim's PNG and JSON file, which sit beside it in ``DIR``, so the folder
is the record of the run; a claim that could not run (a missing data set, an error) is on
the page too, saying why.
"""
import datetime
import html
import os
import platform

import numpy as np

from .. import __version__
from .claims import CLAIMS, SECTIONS

PAGE = "index.html"

# What each section of the text says, in a sentence or two, before its claims.
INTRODUCTIONS = {
    "what": "Deep learning is machine learning with networks of many layers. Instead of being handed "
            "features a person designed, the network learns its own from the raw data.",
    "neuron": "A neuron weighs its inputs, adds a bias and passes the sum through an activation. A layer of "
              "neurons is one matrix product, so a network's work is multiply-adds, millions of them.",
    "training": "Training measures the error with a loss, traces it back to every weight with "
                "backpropagation, and nudges each weight a little against its gradient, batch after batch.",
    "depth": "Layers build features on features: edges, then shapes, then objects. That only works "
             "because each layer bends its input with a non-linear activation.",
    "traditional": "Classic methods learn from features a person chose (or from raw pixels). A deep "
                   "network learns the features too, which takes more data and pays off when there is enough.",
    "digits": "The text's example: images of handwritten digits, ten classes, a network that starts "
              "at chance and learns to read them.",
    "families": "Feed-forward, convolutional, recurrent and transformer networks each suit their kind "
                "of data. Sequences show how they differ: what a network can still remember after many steps.",
    "limitations": "Networks need data and computation, take on the biases of their data, can be fooled "
                   "by noise a person would not see, and do not explain themselves. Each of these can be "
                   "measured, and some can be mended.",
}

EXTRA_STYLE = """<style>
.held { color: #176e2c; font-weight: bold; }
.failed { color: #b3261e; font-weight: bold; }
blockquote { margin: 0.5em 0; padding-left: 1em; border-left: 3px solid #ccc; color: #444; }
.claim { margin-top: 2em; }
</style>"""


def outcome(finding):
    """'held', 'did not hold' or 'could not run' for a Finding, or an exception."""
    if isinstance(finding, BaseException):
        return "could not run"
    return "held" if finding.held else "did not hold"


def _badge(finding):
    word = outcome(finding)
    return f'<span class="{"held" if word == "held" else "failed"}">{word}</span>'


def _summary_table(results):
    rows = []
    for name, finding in results.items():
        number = "" if isinstance(finding, BaseException) else html.escape(finding.number)
        seconds = "" if isinstance(finding, BaseException) else f"{finding.seconds:.0f} s"
        rows.append(f'<tr><td><a href="#{name}">{name}</a></td><td>{_badge(finding)}</td><td>{number}</td>'
                    f"<td>{seconds}</td></tr>")
    return ("<table><tr><th>claim</th><th>here</th><th>the number</th><th>time</th></tr>"
            + "".join(rows) + "</table>")


def _claim_block(name, finding, folder):
    claim = CLAIMS[name]
    parts = [f'<div class="claim" id="{name}">', f"<h3>{name}</h3>",
             f"<blockquote>{html.escape(claim.statement)}</blockquote>"]
    if isinstance(finding, BaseException):
        parts.append(f"<p>{_badge(finding)}: {html.escape(str(finding))}</p>")
    else:
        parts.append(f"<p>{_badge(finding)} here: {html.escape(finding.verdict)}</p>")
        parts.append(f"<p><b>{html.escape(finding.number)}</b> ({finding.seconds:.0f} s)</p>")
        if os.path.exists(os.path.join(folder, f"{name}.png")):
            parts.append(f'<img alt="{name}" src="{name}.png">')
        parts.append(f'<p class="note">The numbers: <a href="{name}.json">{name}.json</a>. '
                     f"Again: <code>glassnet lab {name}</code>.</p>")
    parts.append("</div>")
    return "\n".join(parts)


def _sections(results, folder):
    blocks = []
    for key, heading in SECTIONS.items():
        names = [name for name in results if CLAIMS[name].section == key]
        if not names:
            continue
        blocks.append(f'<section>\n<h2>{heading}</h2>\n<p>{INTRODUCTIONS[key]}</p>\n'
                      + "\n".join(_claim_block(name, results[name], folder) for name in names) + "\n</section>")
    return "\n".join(blocks)


def _machine(quick, seed):
    held = "quick (small data, for tests)" if quick else "full"
    return (f"Run {datetime.date.today().isoformat()} on {platform.machine()} with {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, NumPy {np.__version__}, glassnet {__version__}; "
            f"{held} experiments, seed {seed}.")


def write_page(results, folder, quick=False, seed=0):
    """Write ``folder/index.html`` for ``results`` ({claim name: Finding, or the exception
    that stopped it}), whose PNG and JSON files :func:`claims.save` wrote in ``folder``;
    return its path."""
    from ..inspect.report import COUNT_IMAGES, STYLE  # the report's look (and matplotlib: only when drawing)

    held = sum(1 for finding in results.values() if outcome(finding) == "held")
    title = "The seed's claims, tested on this machine"
    intro = (f"glassnet grew from a text that explains deep learning. It makes claims; here each one is an "
             f"experiment, run on this machine, with its number and its picture. {held} of {len(results)} "
             f"held on this run. A claim that did not hold says so: the lab reports what happened.")
    body = "\n".join([f"<p>{intro}</p>", _summary_table(results), _sections(results, folder),
                      f'<p class="note">{html.escape(_machine(quick, seed))} Made by '
                      "<code>glassnet lab --all</code>.</p>"])
    page = (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{title}</title>\n'
            f"{STYLE}\n{EXTRA_STYLE}\n{COUNT_IMAGES}\n</head>\n<body>\n<h1>{title}</h1>\n{body}\n</body>\n</html>\n")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, PAGE)
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(page)
    return path


def run_all(folder, names=None, quick=False, seed=0, log=None):
    """Run the claims ``names`` (default: all twelve, in order), writing each one's PNG and
    JSON into ``folder`` as it finishes and the page after each, so that an interrupted run
    leaves a page of what it did. A claim that raises is recorded with its error and the
    others still run. Returns ({name: Finding or exception}, the page's path)."""
    from .claims import quiet, run, save

    log = quiet(log)
    names = list(CLAIMS) if names is None else names
    results, path = {}, None
    for number, name in enumerate(names, 1):
        log(f"[{number}/{len(names)}] {name}: {CLAIMS[name].statement}")
        try:
            finding = run(name, quick=quick, seed=seed, log=lambda text: log(f"    {text}"))
        except (OSError, ValueError, RuntimeError, ImportError, FloatingPointError) as error:
            results[name] = error
            log(f"    could not run: {error}")
        else:
            save(finding, folder)
            results[name] = finding
            log(f"    {finding.line()}")
        path = write_page(results, folder, quick, seed)
    return results, path
