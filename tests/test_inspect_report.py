"""The report and the inspect command: one self-contained page a browser opens with every
image loaded, and one PNG per view, on models trained with the CLI."""
import base64
import io
import re
import shutil
import subprocess

import matplotlib.image
import pytest

from glassnet import cli
from glassnet.inspect.report import report

DATA_URI = re.compile(r'<img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


@pytest.fixture(scope="module")
def cnn_report(digits_cnn_run, tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "cnn.html"
    assert report(str(digits_cnn_run), str(path), images=150) == str(path)
    return path


def decoded_images(page):
    """Every embedded PNG of the page, decoded to an array (height, width, channels)."""
    return [read_png(base64.b64decode(data)) for data in DATA_URI.findall(page)]


def read_png(png):
    return matplotlib.image.imread(io.BytesIO(png), format="png")


def test_the_cnn_report_stands_alone_with_every_section(cnn_report):
    page = cnn_report.read_text()
    assert "http://" not in page and "https://" not in page and 'src="file' not in page
    assert page.count("<img ") == len(DATA_URI.findall(page)), "every image is a data: URI"
    for heading in ("The run", "How training went", "What it learned", "Why this prediction",
                    "What the layers represent", "Where it fails", "How brittle it is"):
        assert f"<h2>{heading}</h2>" in page
    for picture in ("filters", "feature-maps", "saliency", "gradcam", "embedding-pca", "confusion", "robustness",
                    "adversarial", "transforms"):
        assert f'alt="{picture}"' in page
    assert "<table><tr><th>class</th><th>precision</th>" in page  # the per-class report
    assert cnn_report.stat().st_size < 3_000_000


def test_every_image_of_the_report_is_a_legible_png(cnn_report):
    images = decoded_images(cnn_report.read_text())
    assert len(images) >= 12
    for image in images:
        height, width = image.shape[:2]
        assert 100 <= width <= 2000 and 50 <= height <= 3000, image.shape


def test_the_mlp_report_shows_weights_and_says_why_there_is_no_grad_cam(digits_mlp_run, tmp_path):
    path = report(str(digits_mlp_run), str(tmp_path / "mlp.html"), images=100)
    page = open(path).read()
    assert 'alt="weights"' in page and 'alt="gradcam"' not in page and 'alt="filters"' not in page
    assert len(decoded_images(page)) >= 10


@pytest.mark.skipif(shutil.which("chromium") is None,
                    reason="no chromium binary: install Debian's 'chromium' package (make test does, as root)")
def test_the_report_opens_in_headless_chromium_with_every_image_loaded(cnn_report, tmp_path):
    browser = ["chromium", "--headless", "--disable-gpu", "--no-sandbox", f"--user-data-dir={tmp_path / 'profile'}"]
    url = cnn_report.resolve().as_uri()
    dom = subprocess.run(browser + ["--dump-dom", "--virtual-time-budget=5000", url],
                         capture_output=True, text=True, timeout=120).stdout
    loaded = re.search(r'data-images-loaded="(\d+)"', dom)
    total = re.search(r'data-images-total="(\d+)"', dom)
    assert loaded and total, "the page's load script did not run"
    assert int(loaded.group(1)) == int(total.group(1)) == cnn_report.read_text().count("<img ") > 0

    screenshot = tmp_path / "report.png"
    subprocess.run(browser + [f"--screenshot={screenshot}", "--window-size=1200,3000", url],
                   capture_output=True, timeout=120)
    assert read_png(screenshot.read_bytes()).shape[:2] == (3000, 1200)


@pytest.mark.parametrize("what, files", [
    ("filters", ["filters.png"]), ("saliency", ["saliency.png"]), ("gradcam", ["gradcam.png"]),
    ("confusion", ["confusion.png", "per-class.png"]), ("adversarial", ["adversarial.png"]),
    ("curves", ["curves.png"]),
])
def test_inspect_writes_the_pictures_of_a_view(digits_cnn_run, tmp_path, capsys, what, files):
    assert cli.main(["inspect", str(digits_cnn_run), "--what", what, "--out", str(tmp_path), "--index", "3"]) == 0
    out = capsys.readouterr().out
    for name in files:
        assert f"wrote {tmp_path / name}" in out
        assert read_png((tmp_path / name).read_bytes()).shape[1] >= 100
    if what == "confusion":
        assert "precision" in out and "accuracy" in out


def test_inspect_prints_hints_and_the_report_command_writes_the_page(digits_mlp_run, tmp_path, capsys):
    assert cli.main(["inspect", str(digits_mlp_run), "--what", "hints"]) == 0
    out = capsys.readouterr().out
    assert "healthy" in out or "problem" in out
    path = tmp_path / "page.html"
    assert cli.main(["report", str(digits_mlp_run), "--out", str(path), "--images", "80"]) == 0
    assert f"wrote {path}" in capsys.readouterr().out and path.exists()


def test_bad_input_gives_clean_errors(digits_cnn_run, digits_mlp_run, tmp_path, capsys):
    assert cli.main(["inspect", str(digits_cnn_run), "--what", "filters", "--layer", "99"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("glassnet: error: Sequential has no layer '99'; its layers are: 0 (Conv2d)")
    assert '"' not in error

    assert cli.main(["inspect", str(digits_mlp_run), "--what", "filters"]) == 1
    assert "has no Conv2d layer" in capsys.readouterr().err

    assert cli.main(["report", str(tmp_path)]) == 1
    error = capsys.readouterr().err
    assert error.startswith("glassnet: error:") and "has no checkpoint" in error and "Traceback" not in error

    assert cli.main(["inspect", str(digits_cnn_run), "--what", "saliency", "--index", "100000"]) == 1
    assert "outside the test set" in capsys.readouterr().err


def test_train_with_health_records_it_and_the_report_shows_it(tmp_path, capsys):
    checkpoint = tmp_path / "model.safetensors"
    assert cli.main(["train", "--model", "mlp", "--dataset", "digits", "--epochs", "2", "--batch-size", "32",
                     "--health", "--health-every", "5", "--progress", "off", "--save", str(checkpoint)]) == 0
    assert (tmp_path / "health.json").exists()
    assert cli.main(["inspect", str(tmp_path), "--what", "health"]) == 0
    assert "gradient-norms.png" in capsys.readouterr().out
    page = open(report(str(tmp_path), images=60)).read()
    assert 'alt="gradient-norms"' in page and 'alt="dead-units"' in page


def test_a_vit_run_shows_where_its_class_token_attends(tmp_path, capsys):
    run = tmp_path / "vit"
    assert cli.main(["train", "--model", "vit", "--dataset", "digits", "--epochs", "1", "--progress", "off",
                     "--save", str(run / "model.safetensors")]) == 0
    assert cli.main(["inspect", str(run), "--what", "attention", "--out", str(tmp_path / "out")]) == 0
    height, width = read_png((tmp_path / "out" / "attention.png").read_bytes()).shape[:2]
    assert height > 200 and width > 400  # layers x heads panels
    page = report(str(run), str(tmp_path / "vit.html"), images=60)
    assert '<img alt="attention"' in open(page).read()


def test_attention_of_a_model_without_it_is_a_clean_error(digits_cnn_run, tmp_path, capsys):
    assert cli.main(["inspect", str(digits_cnn_run), "--what", "attention", "--out", str(tmp_path)]) == 1
    assert "has no MultiheadAttention layer; its layers are: 0 (Conv2d)" in capsys.readouterr().err
