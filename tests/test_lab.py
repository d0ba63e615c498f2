"""The lab as a whole: ``glassnet lab`` lists, runs and pages the seed's claims; the page of
all twelve (their quick runs) opens in a browser with every picture loaded.

Each claim's own effect is asserted in tests/test_lab_<module>.py.
"""
import importlib
import io
import json
import re
import shutil
import subprocess

import matplotlib.image
import pytest

from glassnet import cli
from glassnet.lab import claims, page


def read_png(png):
    return matplotlib.image.imread(io.BytesIO(png), format="png")


def test_every_claim_has_its_module_with_a_run_function_and_a_section():
    assert len(claims.CLAIMS) == 12
    for claim in claims.CLAIMS.values():
        assert callable(importlib.import_module(f"glassnet.lab.{claim.module}").run)
        assert claim.section in claims.SECTIONS and claim.section in page.INTRODUCTIONS
    assert set(page.INTRODUCTIONS) == {claim.section for claim in claims.CLAIMS.values()}  # no empty section


def test_glassnet_lab_lists_the_claims_one_a_line(capsys):
    assert cli.main(["lab"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[:12]] == list(claims.CLAIMS)


def test_bad_names_give_one_error_line(capsys):
    assert cli.main(["lab", "gravity"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("glassnet: error: unknown claim 'gravity'; choose one of: accuracy-climb, linear-depth")
    assert cli.main(["lab", "bias", "--all"]) == 1
    assert "not both" in capsys.readouterr().err


@pytest.fixture
def cached_runs(monkeypatch, lab_finding):
    """claims.run gives the session's quick findings, so the CLI's plumbing is tested without
    running the experiments again."""
    monkeypatch.setattr(claims, "run", lambda name, quick=False, seed=0, log=None: lab_finding(name))


def test_glassnet_lab_name_prints_the_verdict_and_writes_png_and_json(cached_runs, tmp_path, capsys):
    assert cli.main(["lab", "linear-depth", "--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^linear-depth: (held|did NOT hold) here: ", out, re.MULTILINE)
    record = json.loads((tmp_path / "linear-depth.json").read_text())
    assert record["name"] == "linear-depth" and isinstance(record["held"], bool) and record["data"]
    assert 'id="linear-depth"' in (tmp_path / "index.html").read_text()  # the page, with this one claim
    assert read_png((tmp_path / "linear-depth.png").read_bytes()).shape[1] >= 200


@pytest.fixture(scope="module")
def lab_page(tmp_path_factory, lab_finding):
    """The page of all twelve claims' quick runs, as ``glassnet lab --all --quick`` writes it."""
    folder = tmp_path_factory.mktemp("lab")
    for name in claims.CLAIMS:
        claims.save(lab_finding(name), str(folder))
    return page.write_page(str(folder))


def test_the_page_follows_the_text_and_shows_every_claim(lab_page):
    text = open(lab_page).read()
    headings = re.findall(r"<h2>(.*?)</h2>", text)
    assert headings == list(claims.SECTIONS.values())
    for name in claims.CLAIMS:
        assert f'id="{name}"' in text and f'src="{name}.png"' in text and f'href="{name}.json"' in text
    assert re.search(r"\d+ of the 12 claims held here\. ", text) and "quick (small data, for tests), seed 0" in text


@pytest.mark.skipif(shutil.which("chromium") is None,
                    reason="no chromium binary: install Debian's 'chromium' package (make test does, as root)")
def test_the_page_opens_in_headless_chromium_with_every_image_loaded(lab_page, tmp_path):
    browser = ["chromium", "--headless", "--disable-gpu", "--no-sandbox", f"--user-data-dir={tmp_path / 'profile'}",
               "--allow-file-access-from-files"]
    url = "file://" + lab_page
    dom = subprocess.run(browser + ["--dump-dom", "--virtual-time-budget=5000", url],
                         capture_output=True, text=True, timeout=120).stdout
    loaded = re.search(r'data-images-loaded="(\d+)"', dom)
    total = re.search(r'data-images-total="(\d+)"', dom)
    assert loaded and total, "the page's load script did not run"
    assert int(loaded.group(1)) == int(total.group(1)) == 12
    screenshot = tmp_path / "lab.png"
    subprocess.run(browser + [f"--screenshot={screenshot}", "--window-size=1200,4000", url],
                   capture_output=True, timeout=120)
    assert read_png(screenshot.read_bytes()).shape[:2] == (4000, 1200)


def test_run_all_records_a_claim_that_fails_and_runs_the_others(monkeypatch, lab_finding, tmp_path):
    def run(name, quick=False, seed=0, log=None):
        if name == "bias":
            raise ValueError("no data for this claim")
        return lab_finding(name)

    monkeypatch.setattr(claims, "run", run)
    results, path = page.run_all(str(tmp_path), names=["linear-depth", "bias", "nudging"], quick=True)
    assert isinstance(results["bias"], ValueError) and results["nudging"].name == "nudging"
    text = open(path).read()
    assert "could not run</span>: no data for this claim" in text
    assert json.loads((tmp_path / "bias.json").read_text())["error"] == "no data for this claim"
    assert (tmp_path / "nudging.png").exists() and not (tmp_path / "bias.png").exists()


def test_glassnet_lab_all_exits_with_an_error_line_when_a_claim_could_not_run(monkeypatch, lab_finding, tmp_path,
                                                                            capsys):
    monkeypatch.setattr(claims, "CLAIMS", {name: claims.CLAIMS[name] for name in ["nudging", "bias"]})
    monkeypatch.setattr(page, "CLAIMS", claims.CLAIMS)

    def run(name, quick=False, seed=0, log=None):
        if name == "bias":
            raise OSError("the data set's files are missing")
        return lab_finding(name)

    monkeypatch.setattr(claims, "run", run)
    assert cli.main(["lab", "--all", "--quick", "--out", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "1 of 2 claims held here" in captured.out or "0 of 2 claims held here" in captured.out
    assert captured.err.strip() == "glassnet: error: 1 of 2 claims could not run: bias (the page says why)"
    assert (tmp_path / "index.html").exists()


def test_image_data_falls_back_to_the_digits_and_a_quick_run_never_downloads(monkeypatch):
    from glassnet.data import DataNotFoundError

    asked = []

    def absent(split, root=None, download=True):
        asked.append(download)
        raise DataNotFoundError("no Fashion-MNIST files here")

    monkeypatch.setitem(claims.DATASETS, "fashion-mnist", absent)
    name, train, test = claims.image_data("fashion-mnist", quick=True)
    assert (name, len(train), len(test)) == ("digits", 1438, 359) and asked == [False]
    claims.image_data("fashion-mnist", quick=False)
    assert asked == [False, True]  # a full run may fetch it where a network is
