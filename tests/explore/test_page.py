"""The data the explorer page embeds: tree, "× n" collapsing, graphs, per-unit numbers, windows, image."""

from __future__ import annotations

import base64
import io
import json
import re

import pytest
import torch
from torch import nn

from cnnlab.analysis import inspect
from cnnlab.errors import ConfigError
from cnnlab.explore import build_page, explore, page_data, trace

SIZE = (1, 3, 224, 224)


def _meta(name: str) -> nn.Module:
    from cnnlab.nets.registry import create_model

    with torch.device("meta"):
        return create_model(name)


@pytest.fixture(scope="module")
def resnet50():
    model = _meta("resnet50")
    return model, page_data(trace(model, SIZE, name="resnet50"))


def _items(node: dict) -> dict:
    return {it.get("name") or it["items"][0]["name"]: it for it in node["items"] if it["t"] != "u"}


def _unit(data: dict, node: dict, name: str) -> int:
    return next(k for k, it in enumerate(node["items"]) if it["t"] == "u" and data["rows"][it["id"]]["path"].endswith(name))


# He et al. 2016, Table 1, 50-layer column: bottleneck blocks per stage (conv2_x .. conv5_x)
RESNET50_BLOCKS = (3, 4, 6, 3)


def test_resnet50_stages_collapse_to_first_block_and_x_n(resnet50):
    _, data = resnet50
    stages = [_items(data["tree"])[f"stages.{i}"] for i in range(4)]
    for stage, blocks in zip(stages, RESNET50_BLOCKS, strict=True):
        first, rest = stage["items"]
        assert first["t"] == "g" and first["name"] == "0"  # a projection shortcut and other input channels
        assert rest["t"] == "r" and rest["n"] == blocks - 1
        assert [g["name"] for g in rest["items"]] == [str(i) for i in range(1, blocks)]
        assert rest["params"] == sum(g["params"] for g in rest["items"])


def test_torchvision_resnet50_layer1_is_block_0_then_x_2():
    torchvision = pytest.importorskip("torchvision")
    data = page_data(trace(torchvision.models.resnet50(), SIZE))
    layers = _items(data["tree"])
    assert [(it["t"], it.get("n")) for it in layers["layer1"]["items"]] == [("g", None), ("r", 2)]
    assert [(it["t"], it.get("n")) for it in layers["layer3"]["items"]] == [("g", None), ("r", 5)]


def test_equal_parallel_branches_do_not_collapse(resnet50):
    """A bottleneck's conv3 and its projection shortcut are alike (1x1, 64 -> 256, BN) but side by side."""
    _, data = resnet50
    block = _items(_items(data["tree"])["stages.0"])["0"]
    names = [it["name"] for it in block["items"] if it["t"] == "g"]
    assert {"conv3", "shortcut"} <= set(names) and all(it["t"] != "r" for it in block["items"])


def test_residual_graph_shortcut_beside_the_main_path(resnet50):
    _, data = resnet50
    block = _items(_items(data["tree"])["stages.0"])["0"]
    index = {it.get("name"): k for k, it in enumerate(block["items"]) if it["t"] == "g"}
    add = _unit(data, block, ".add")
    conv1, conv3, shortcut = index["conv1"], index["conv3"], index["shortcut"]
    assert block["layers"][conv1] == block["layers"][shortcut] == 0  # both read the block input
    assert set(block["ins"]) == {conv1, shortcut}
    assert [conv3, add] in block["edges"] and [shortcut, add] in block["edges"]
    block1 = _items(data["tree"])["stages.0"]["items"][1]["items"][0]  # inside the "× 2"
    add1, identity = _unit(data, block1, ".add"), _unit(data, block1, ".shortcut")
    assert data["rows"][block1["items"][identity]["id"]]["type"] == "Identity"
    assert identity in block1["ins"] and [identity, add1] in block1["edges"]  # the identity shortcut


def test_inception_branches_side_by_side():
    data = page_data(trace(_meta("googlenet"), SIZE, name="googlenet"))
    stage = _items(_items(data["tree"])["stages"])["1"]
    block = _items(stage)["inception4a"]
    assert [it["name"] for it in block["items"]] == ["branch1", "branch2", "branch3", "branch4"]
    assert block["layers"] == [0, 0, 0, 0] and block["ins"] == [0, 1, 2, 3] and block["edges"] == []
    # the block's output is its concatenation (no row of its own): 192 + 208 + 48 + 64 channels (Table 1)
    assert block["out"] == [1, 512, 14, 14]


def test_every_unit_carries_inspects_numbers(resnet50):
    model, data = resnet50
    report = inspect(model, SIZE)
    assert len(data["rows"]) == len(report.rows)
    for rec, row in zip(data["rows"], report.rows, strict=True):
        assert (rec["path"], rec["type"], rec["params"], rec["macs"], rec["flops"]) == \
               (row.path, row.type, row.params, row.macs, row.flops)
        assert rec["out"] == list(row.output_shape)
        if row.rf_size is None:
            assert rec["rf"] is None
        else:
            assert [a["r"] for a in rec["rf"]] == list(row.rf_size)
            assert [a["r_min"] for a in rec["rf"]] == list(row.rf_size_min)
            assert [a["jump"] for a in rec["rf"]] == list(row.rf_jump)
    assert data["totals"]["params"] == report.params == 25_557_032  # torchvision resnet50's count
    assert data["totals"]["macs"] == report.macs


def test_start_and_boxes_follow_the_lecture_recurrence(resnet50):
    """r' = r + (k-1)j, j' = js, start' = start + ((k-1)/2 - p)j from (1, 1, 0.5): the 7x7/2 stem conv
    (p 3) gives (7, 2, 0.5), the 3x3/2 max pool (p 1) after it (11, 4, 0.5)."""
    model, data = resnet50
    rows = {r["path"]: r for r in data["rows"]}
    conv, pool = rows["stem.conv1.conv"], rows["stem.pool"]
    assert [(a["r"], a["jump"], a["start"]) for a in conv["rf"]] == [(7, 2, 0.5)] * 2
    assert [(a["r"], a["jump"], a["start"]) for a in pool["rf"]] == [(11, 4, 0.5)] * 2
    report = inspect(model, SIZE)
    rf = report.receptive_field
    last = rows[rf.layer]
    assert [a["start"] for a in last["rf"]] == list(rf.start) and last["map"] == list(rf.feature_size)
    for unit in [(0, 0), (3, 5), (6, 6)]:  # period 1: the page's box of unit u is start + u*jump -+ r/2
        boxes = tuple((int(a["start"] + u * a["jump"] - a["r"] / 2), int(a["start"] + u * a["jump"] + a["r"] / 2) - 1)
                      for u, a in zip(unit, last["rf"], strict=True))
        assert boxes == rf.box(unit) and all(a["boxes"] is None for a in last["rf"])


def test_a_period_of_boxes_after_a_transposed_convolution():
    """k3 s2 transposed conv: even units read two input features, odd units one (docs/analysis.md)."""
    net = nn.Sequential(nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1))
    rf = inspect(net, (1, 1, 8, 8)).receptive_field
    axis = page_data(trace(net, (1, 1, 8, 8)))["rows"][0]["rf"][1]
    assert axis["period"] == 2 and (axis["r"], axis["r_min"]) == (2, 1)
    for u in range(15):
        cycles, phase = divmod(u, axis["period"])
        assert tuple(b + cycles * axis["shift"] for b in axis["boxes"][phase]) == rf.box((0, u))[1]


def test_windows_for_the_animations():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, (1, 7), stride=(1, 2), padding=(0, 3), dilation=(1, 2), groups=1)
            self.pool = nn.MaxPool2d(3, 2, 1, ceil_mode=True)
            self.up = nn.ConvTranspose2d(8, 8, 4, stride=2, padding=1, output_padding=1)
            self.bilinear = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)

        def forward(self, x):
            y = self.bilinear(self.up(self.pool(self.conv(x))))
            return nn.functional.interpolate(y, scale_factor=3, mode="nearest")

    data = page_data(trace(Net(), (1, 3, 32, 32)))
    geo = {r["path"]: r["geo"] for r in data["rows"]}
    assert geo["conv"] == {"op": "conv", "k": [1, 7], "s": [1, 2], "d": [1, 2], "p": [[0, 0], [3, 3]], "groups": 1}
    assert geo["pool"] == {"op": "maxpool", "k": [3, 3], "s": [2, 2], "d": [1, 1], "p": [[1, 1], [1, 1]],
                           "ceil_mode": True}
    assert geo["up"]["op"] == "convT" and geo["up"]["k"] == [4, 4] and geo["up"]["output_padding"] == [1, 1]
    assert geo["bilinear"] == {"op": "upsample", "mode": "bilinear", "scale": [2.0, 2.0], "align_corners": False}
    assert geo["interpolate"] == {"op": "upsample", "mode": "nearest", "scale": [3.0, 3.0], "align_corners": False}


def _embedded(html: str) -> dict:
    match = re.search(r'<script id="data" type="application/json">(.*?)</script>', html, re.S)
    assert match is not None
    return json.loads(match.group(1))


def test_the_page_is_self_contained_and_embeds_the_data(tmp_path):
    model = _meta("resnet18")
    out = explore(model, SIZE, out=tmp_path / "r18.html", name="resnet18")
    html = out.read_text(encoding="utf-8")
    assert _embedded(html) == json.loads(json.dumps(page_data(trace(model, SIZE, name="resnet18"))))
    assert not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', html)  # nothing fetched: no CDN, no link
    assert "@import" not in html and "fetch(" not in html and "XMLHttpRequest" not in html
    assert "/*SCRIPT*/" not in html and "/*DATA*/" not in html


def test_a_name_cannot_close_the_script():
    class Evil(nn.Conv2d):
        pass

    page = build_page(Evil(3, 4, 3), (1, 3, 8, 8), name="</script><b>x")
    assert page.count("</script>") == 2 and "<b>x" not in page


def test_image_is_letterboxed_to_the_input(tmp_path):
    from PIL import Image

    path = tmp_path / "wide.png"
    Image.new("RGB", (200, 100), (255, 0, 0)).save(path)
    data = page_data(trace(_meta("resnet18"), SIZE), image=path)
    picture = Image.open(io.BytesIO(base64.b64decode(data["image"].split(",", 1)[1])))
    assert picture.size == (224, 224)
    assert picture.getpixel((112, 112)) == (255, 0, 0) and picture.getpixel((112, 5)) == (128, 128, 128)
    assert "letterboxed to 224x224" in data["image_note"]


def test_a_profile_gives_each_unit_its_latency_and_roofline_numbers():
    from cnnlab.analysis.profile import Machine, profile

    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, groups=8))
    timed = profile(model, (1, 3, 16, 16), repeats=2, warmup=1,
                    machine=Machine(peak_flops=1e11, bandwidth_bytes_per_s=1e10, threads=1))
    data = page_data(trace(model, (1, 3, 16, 16)), profile=timed)
    assert [r["path"] for r in data["rows"]] == [u.path for u in timed.units]
    for rec, unit in zip(data["rows"], timed.units, strict=True):
        assert rec["prof"]["latency_s"] == unit.latency_s > 0
        assert rec["prof"]["intensity"] == unit.intensity and rec["prof"]["share"] == unit.share
    assert data["profile"]["peak_flops"] == 1e11 and data["profile"]["ridge"] == 10.0  # 1e11 / 1e10 FLOP/byte


def test_bad_input_is_a_config_error_naming_it(tmp_path):
    model = _meta("resnet18")
    with pytest.raises(ConfigError, match="not-there.png"):
        explore(model, SIZE, image=tmp_path / "not-there.png", out=tmp_path / "a.html")
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    with pytest.raises(ConfigError, match="junk.png"):
        explore(model, SIZE, image=junk, out=tmp_path / "a.html")
    with pytest.raises(ConfigError, match="existing folder"):
        explore(model, SIZE, out=tmp_path)
    with pytest.raises(ConfigError, match="nn.Module"):
        explore("resnet18", SIZE, out=tmp_path / "a.html")
    with pytest.raises(ConfigError, match="input_size"):
        explore(model, "1x3xfoo", out=tmp_path / "a.html")
    with pytest.raises(ConfigError, match="effective=True"):
        explore(model, SIZE, out=tmp_path / "a.html", effective=True)


def test_cnnlab_explore_is_the_function_even_after_importing_the_package(tmp_path):
    import cnnlab
    import cnnlab.explore  # noqa: F401 - the package import must not hide the function

    out = cnnlab.explore(nn.Conv2d(3, 4, 3), (1, 3, 8, 8), out=tmp_path / "conv.html")
    assert out == tmp_path / "conv.html" and _embedded(out.read_text(encoding="utf-8"))["rows"][0]["macs"] == 4 * 36 * 27
