"""The lab's page: every claim's picture and numbers from one run, in the order of the text
glassnet grew from (``glassnet lab --all --out DIR`` writes ``DIR/index.html``).

The page is made from each claim's PNG and JSON files, which sit beside it in ``DIR``, so
the folder is the record of the run: ``glassnet lab NAME --out DIR`` updates the page with
that one claim. A claim that could not run (a missing data set, an error) is on the page
too, saying why.
"""
import datetime
import html
import importlib.metadata
import os
import platform

import numpy as np

from .claims import CLAIMS, SECTIONS, load_record

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


def outcome(record):
    """'held', 'did not hold' or 'could not run' for a claim's JSON record."""
    if "error" in record:
        return "could not run"
    return "held" if record["held"] else "did not hold"


def _badge(record):
    word = outcome(record)
    return f'<span class="{"held" if word == "held" else "failed"}">{word}</span>'


def _summary_table(records):
    rows = []
    for name, record in records.items():
        number = html.escape(record.get("number", ""))
        seconds = f"{record['seconds']:.0f} s" if "seconds" in record else ""
        rows.append(f'<tr><td><a href="#{name}">{name}</a></td><td>{_badge(record)}</td><td>{number}</td>'
                    f"<td>{seconds}</td></tr>")
    return ("<table><tr><th>claim</th><th>here</th><th>the number</th><th>time</th></tr>"
            + "".join(rows) + "</table>")


def _claim_block(name, record, folder):
    parts = [f'<div class="claim" id="{name}">', f"<h3>{name}</h3>",
             f"<blockquote>{html.escape(CLAIMS[name].statement)}</blockquote>"]
    if "error" in record:
        parts.append(f"<p>{_badge(record)}: {html.escape(record['error'])}</p>")
    else:
        parts.append(f"<p>{_badge(record)} here: {html.escape(record['verdict'])}</p>")
        parts.append(f"<p><b>{html.escape(record['number'])}</b> ({record['seconds']:.0f} s)</p>")
        if os.path.exists(os.path.join(folder, f"{name}.png")):
            parts.append(f'<img alt="{name}" src="{name}.png">')
        parts.append(f'<p class="note">The numbers: <a href="{name}.json">{name}.json</a>. '
                     f"Again: <code>glassnet lab {name}</code>.</p>")
    parts.append("</div>")
    return "\n".join(parts)


def _sections(records, folder):
    blocks = []
    for key, heading in SECTIONS.items():
        names = [name for name in records if CLAIMS[name].section == key]
        if not names:
            continue
        blocks.append(f'<section>\n<h2>{heading}</h2>\n<p>{INTRODUCTIONS[key]}</p>\n'
                      + "\n".join(_claim_block(name, records[name], folder) for name in names) + "\n</section>")
    return "\n".join(blocks)


def _machine(records):
    runs = {("quick (small data, for tests)" if record.get("quick") else "full") + f", seed {record.get('seed', 0)}"
            for record in records.values()}
    return (f"Written {datetime.date.today().isoformat()} on {platform.machine()} with {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, NumPy {np.__version__}, glassnet {importlib.metadata.version('glassnet')}; "
            f"experiments: {'; '.join(sorted(runs))}.")


def write_page(folder):
    """Write ``folder/index.html`` from the claims' records there (the JSON and PNG files
    :func:`claims.save` and :func:`claims.save_failure` wrote), in the text's order, and
    return its path. Claims not run yet are left out; the page says how many it has."""
    from ..inspect.report import COUNT_IMAGES, STYLE  # the report's look (and matplotlib: only when drawing)

    records = {name: record for name in CLAIMS if (record := load_record(name, folder)) is not None}
    held = sum(1 for record in records.values() if outcome(record) == "held")
    title = "The seed's claims, tested on this machine"
    missing = len(CLAIMS) - len(records)
    intro = (f"glassnet grew from a text that explains deep learning. It makes claims; here each one is an "
             f"experiment, run on this machine, with its number and its picture. {held} of the {len(records)} "
             f"claims held here{f' ({missing} not run yet)' if missing else ''}. A claim that did not hold "
             "says so: the lab reports what happened.")
    body = "\n".join([f"<p>{intro}</p>", _summary_table(records), _sections(records, folder),
                      f'<p class="note">{html.escape(_machine(records))} Made by '
                      "<code>glassnet lab</code>.</p>"])
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
    others still run. Returns ({name: Finding, or the exception that stopped it}, the page's path)."""
    from . import claims

    log = claims.quiet(log)
    names = list(CLAIMS) if names is None else names
    results, path = {}, None
    for number, name in enumerate(names, 1):
        log(f"[{number}/{len(names)}] {name}: {CLAIMS[name].statement}")
        try:
            finding = claims.run(name, quick=quick, seed=seed, log=lambda text: log(f"    {text}"))
        except (OSError, ValueError, RuntimeError, ImportError, FloatingPointError) as error:
            results[name] = error
            claims.save_failure(name, error, folder, quick, seed)
            log(f"    could not run: {error}")
        else:
            claims.save(finding, folder)
            results[name] = finding
            log(f"    {finding.line()}")
        path = write_page(folder)
    return results, path
