"""The computation graph, seen: the nodes and edges that backward walks, as text, a figure
and SVG, in the report and from the inspect command."""
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import glassnet as gn
from glassnet import cli, nn
from glassnet.inspect import plots
from glassnet.inspect.graph import Graph, graph, model_graph
from glassnet.inspect import report as reports

SVG = "{http://www.w3.org/2000/svg}"


def mlp_loss():
    gn.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    loss = nn.functional.cross_entropy(model(gn.randn(5, 4)), gn.tensor([0, 1, 2, 0, 1]))
    return model, loss


def test_a_two_layer_mlp_with_cross_entropy_has_its_ops_parameters_and_inputs():
    model, loss = mlp_loss()
    found = graph(loss, params=dict(model.named_parameters()))
    assert [(node.name, node.kind, node.shape) for node in found.nodes] == [
        ("input", "input", (5, 4)), ("0.weight", "parameter", (8, 4)), ("0.bias", "parameter", (8,)),
        ("Linear", "op", (5, 8)), ("ReLU", "op", (5, 8)),
        ("2.weight", "parameter", (3, 8)), ("2.bias", "parameter", (3,)), ("Linear", "op", (5, 3)),
        ("input", "input", (5,)), ("CrossEntropy", "op", ())]
    assert found.edges == [(0, 3), (1, 3), (2, 3), (3, 4), (4, 7), (5, 7), (6, 7), (7, 9), (8, 9)]
    assert [node.is_output for node in found.nodes] == [False] * 9 + [True]
    assert found.nodes[8].dtype == "int64" and found.nodes[8].shape_text() == "(5,) int64"
    assert ("log_probs", (5, 3)) in found.nodes[9].saved  # what CrossEntropy keeps for its backward
    assert found.omitted == 0

    # the model itself names them too; without names, parameters are still marked as such
    assert [node.name for node in graph(loss, params=model).nodes] == [node.name for node in found.nodes]
    unnamed = graph(loss)
    assert [node.name for node in unnamed.nodes if node.kind == "parameter"] == ["parameter"] * 4


def test_the_text_form_has_one_line_per_node_with_its_inputs():
    model, loss = mlp_loss()
    lines = str(graph(loss, params=model)).splitlines()
    assert lines[0] == "computation graph: 4 ops, 4 parameters, 2 inputs; the output is node 9"
    assert len(lines) == 1 + 10
    assert lines[4].split()[:3] == ["3", "Linear", "(5,"]
    assert "<- 0 input, 1 0.weight, 2 0.bias" in lines[4]
    assert lines[10].startswith("9  CrossEntropy") and "<- 7 Linear, 8 input  [output]" in lines[10]


def test_a_shared_input_and_a_shared_op_appear_once():
    x = gn.tensor([[1.0, -2.0], [3.0, 4.0]], requires_grad=True)
    hidden = x * 2.0                                   # one op read by two others: a diamond
    out = (hidden.relu() + hidden.sigmoid() + x).sum()  # and x itself read twice
    found = graph(out, params={"x": x})
    names = [node.name for node in found.nodes]
    assert names.count("x") == 1 and names.count("Mul") == 1
    assert sorted(names) == sorted(["x", "Mul", "ReLU", "Sigmoid", "Add", "Add", "Sum"])
    x_node, mul = names.index("x"), names.index("Mul")
    assert len([1 for i, _ in found.edges if i == x_node]) == 2 and len([1 for i, _ in found.edges if i == mul]) == 2
    assert found.nodes[mul].constants == ["2"]  # the number is shown with its op, not as a node
    assert len(found.edges) == 8


def test_a_large_graph_is_capped_and_says_so():
    x = gn.ones(3, requires_grad=True)
    y = x
    for _ in range(30):
        y = y * 1.5
    found = graph(y.sum(), max_nodes=10)
    assert found.count("op") == 10 and found.omitted == 21
    assert found.nodes[0].kind == "omitted" and found.nodes[0].name == "21 earlier ops"
    assert "capped: the 10 ops nearest the output are shown, the 21 earlier ones are one box" in str(found)
    assert "Capped" in found.to_svg()
    with pytest.raises(ValueError, match="max_nodes"):
        graph(y.sum(), max_nodes=0)


def test_the_figure_renders_to_png_at_a_legible_size():
    model, loss = mlp_loss()
    figure = graph(loss, params=model).figure(title="A two-layer MLP")
    png = plots.to_png(figure, dpi=72)
    assert png[1:4] == b"PNG"
    width, height = figure.get_size_inches()
    assert 3 < width < 10 and 3 < height < 10


def test_the_svg_parses_and_holds_a_box_per_node_and_a_path_per_edge():
    model, loss = mlp_loss()
    found = graph(loss, params=model)
    root = ET.fromstring(found.to_svg())
    assert root.tag == f"{SVG}svg"
    texts = {element.text for element in root.iter(f"{SVG}text")}
    assert {"input", "0.weight", "0.bias", "Linear", "ReLU", "2.weight", "CrossEntropy", "(5, 8)", "()"} <= texts
    assert len(list(root.iter(f"{SVG}rect"))) == len(found.nodes)
    assert len([p for p in root.iter(f"{SVG}path") if p.get("marker-end")]) == len(found.edges)
    assert found._repr_svg_() == found.to_svg()  # a notebook shows it


def test_the_layout_keeps_boxes_apart_and_edges_pointing_down():
    gn.manual_seed(0)
    block = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
    found = graph(block(gn.randn(2, 5, 16)).sum(), params=block)
    # 16 ops: q, k and v come from one product (self-attention), split by one Unbind
    assert found.count("op") > 12 and "Attention" in [node.name for node in found.nodes]
    from glassnet.inspect.graph import HEIGHT, _layout
    layout = _layout(found, None)
    for i, j in found.edges:
        assert layout.y[i] > layout.y[j]  # inputs above the ops that read them
    boxes = sorted(zip(layout.y, layout.x, layout.width))
    for (y1, x1, w1), (y2, x2, w2) in zip(boxes, boxes[1:]):
        if abs(y1 - y2) < HEIGHT:
            assert abs(x1 - x2) >= (w1 + w2) / 2  # boxes of a row do not overlap


def test_a_graph_freed_by_backward_still_draws_and_says_why_the_shapes_are_missing():
    model, loss = mlp_loss()
    loss.backward()
    found = graph(loss, params=model)
    assert [node.name for node in found.nodes if node.kind != "input"] == [
        "0.weight", "0.bias", "Linear", "ReLU", "2.weight", "2.bias", "Linear", "CrossEntropy"]
    assert "backward freed this graph" in str(found)
    assert found.to_svg().count("<rect") == len(found.nodes)


def test_no_graph_is_a_clear_error():
    with gn.no_grad():
        loss = mlp_loss()[1]
    with pytest.raises(ValueError, match="has no graph.*help: compute it outside no_grad"):
        graph(loss)
    with pytest.raises(TypeError, match="takes a tensor"):
        graph(np.ones(3))


def test_model_graph_runs_in_eval_mode_and_leaves_the_model_as_it_was():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(),
                          nn.Dropout(0.5), nn.Linear(2 * 4 * 4, 3))
    before = np.array(model.state_dict()["1.running_mean"])
    found = model_graph(model, np.ones((2, 1, 4, 4), np.float32), [0, 2])
    names = [node.name for node in found.nodes if node.kind == "op"]
    assert names[0] == "Conv2d" and names[-1] == "CrossEntropy" and "Mul" not in names  # no dropout in eval
    assert "1.weight" in [node.name for node in found.nodes]
    assert model.training and np.array_equal(model.state_dict()["1.running_mean"], before)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    directory = tmp_path_factory.mktemp("graph-run")
    assert cli.main(["train", "--model", "mlp", "--dataset", "digits", "--epochs", "1", "--progress", "off",
                     "--save", str(directory / "model.safetensors")]) == 0
    return directory


def test_the_report_shows_the_graph_as_inline_svg(tiny_run, tmp_path, monkeypatch):
    # the other views' pictures are checked in test_inspect_report.py; skipping them here saves seconds
    monkeypatch.setattr(reports, "_attempt", lambda view, *args, **options: "")
    page = open(reports.report(str(tiny_run), str(tmp_path / "page.html"), images=30)).read()
    assert "<h2>What backpropagation walks</h2>" in page
    assert "http://" not in page  # inline, the svg takes its namespace from the page
    svg = page[page.index("<svg "):page.index("</svg>") + len("</svg>")]
    texts = {element.text for element in ET.fromstring(svg).iter("text")}
    assert {"Linear", "ReLU", "CrossEntropy"} <= texts
    assert "<summary>The graph as text</summary>" in page


def test_inspect_writes_the_graph_as_png_and_prints_it(tiny_run, tmp_path, capsys):
    assert cli.main(["inspect", str(tiny_run), "--what", "graph", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"wrote {tmp_path / 'graph.png'}" in out
    assert (tmp_path / "graph.png").read_bytes()[1:4] == b"PNG"
    assert "computation graph:" in out and "CrossEntropy" in out and "[output]" in out


def test_graph_is_reachable_from_glassnet_inspect():
    assert gn.inspect.graph is graph and isinstance(gn.inspect.model_graph(
        nn.Linear(2, 1), gn.ones(1, 2)), Graph)
