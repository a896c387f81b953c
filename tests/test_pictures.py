"""Pictures and labels: enlarged, captioned grids, histograms with legends, value names, full HTML reports,
``info --verify`` on the shipped networks, ``--help`` summaries and docs without machine paths."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from sg2eval.cli.main import SHORT_HELP, cli
from sg2eval.labels import distance_name, value_label
from sg2eval.plots import histogram_edges, save_histogram
from sg2eval.result import Result
from sg2eval.snapshot_metrics import measured_name
from sg2model.core.errors import Sg2Error
from sg2model.core.images import GridLabels, save_image_grid
from tests.test_reports import Counting, toy  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[1]
IMAGES = np.random.default_rng(0).integers(0, 256, (6, 3, 32, 32), dtype=np.uint8)


def test_plain_grid_keeps_exact_pixels(tmp_path: Path) -> None:
    save_image_grid(IMAGES, tmp_path / "plain.png", columns=3)
    grid = np.asarray(Image.open(tmp_path / "plain.png"))
    assert grid.shape == (2 * 34 + 2, 3 * 34 + 2, 3)
    np.testing.assert_array_equal(grid[2:34, 36:68], IMAGES[1].transpose(1, 2, 0))


def test_labelled_grid_is_enlarged_and_captioned(tmp_path: Path) -> None:
    captions = ["target"] * 3 + ["projection, LPIPS 0.123"] * 3
    labels = GridLabels(captions, ["generated", "real"], "projections")
    save_image_grid(IMAGES, tmp_path / "labelled.png", columns=3, labels=labels)
    picture = Image.open(tmp_path / "labelled.png")
    assert picture.width >= 3 * 128 and picture.height >= 2 * 128  # was 104 x 70 at 32 px
    assert json.loads(picture.text["sg2:captions"]) == captions and picture.text["Title"] == "projections"
    pixels = np.asarray(picture)
    assert (pixels < 128).all(axis=2).any()  # dark text was drawn on the white margins
    # Nearest-neighbour enlargement: each source pixel is a 4 x 4 block somewhere in the picture.
    block = IMAGES[0].transpose(1, 2, 0).repeat(4, axis=0).repeat(4, axis=1)
    rows, cols = np.nonzero((pixels[:, :, 0] == block[0, 0, 0]) & (pixels[:, :, 1] == block[0, 0, 1]))
    found = zip(rows, cols, strict=True)
    assert any(np.array_equal(pixels[y : y + 128, x : x + 128], block) for y, x in found)
    with pytest.raises(Sg2Error, match="captions for 6 images"):
        save_image_grid(IMAGES, tmp_path / "bad.png", 3, labels=GridLabels(["one"]))


def test_histogram_log_axis_legend_and_median(tmp_path: Path) -> None:
    values = np.concatenate([np.full(99, 10.0), [1e5]])  # one outlier would squeeze a linear axis
    edges = histogram_edges(values, 10, None, log_x=True)
    assert edges[0] == 10.0 and edges[-1] == 1e5 and np.allclose(np.diff(np.log(edges)), np.log(10) / 2.5)
    save_histogram(values, tmp_path / "h.png", title="per-pair PPL", label="pairs", log_x=True,
                   highlight=[(5e4, 2e5)], highlight_label="top pairs")
    text = Image.open(tmp_path / "h.png").text
    assert text["Title"] == "per-pair PPL"
    assert text["Description"] == "pairs (100); top pairs; median 10"


def _result(metric: str, values: dict, detector: str, label: str = "", **params: object) -> Result:
    detected = {"detector": detector, **({"label": label} if label else {})}
    sources = {"real": {"num": 500}, "fake": {"num": 400, "source": {"kind": "network"}}}
    return Result(metric, values, params, {"detector": detected, "sources": sources})


def test_values_are_named_for_what_measured_them() -> None:
    inception = _result("fid", {"fid": 3.0}, "inception-v3-tf")
    assert value_label(inception, "fid") == "FID (Inception-v3, 500 real vs 400 generated)"
    in_domain = _result("kid", {"kid": 3.5e4}, "shapes-features", "in-domain (shapes)", num_subsets=100,
                        subset_size=250)
    assert value_label(in_domain, "kid") == (
        "in-domain KID (shapes-features, 500 real vs 400 generated, 100 subsets of 250, unscaled)")
    assert value_label(in_domain, "kid", kid_scale=1e3).endswith("x1e3)")
    pr = _result("pr", {"recall": 0.5}, "vgg16-nv", k=3)
    assert value_label(pr, "recall") == "recall (VGG16, k=3, 500 real vs 400 generated)"
    assert distance_name({"lpips": "shapes-lpips", "label": "in-domain distance"}) == (
        "in-domain distance (shapes-lpips)")
    assert distance_name({"lpips": "vgg16-nv"}) == "LPIPS (vgg16-nv)"
    assert [measured_name("fid50k", 500), measured_name("pr50k3", 500), measured_name("fid50k", 50_000)] == [
        "fid500", "pr500_k3", "fid50k"]


class _Document(HTMLParser):
    """Collects the open/close tags and the charset of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.seen: list[str] = []
        self.charset = None
        self.doctype = ""

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.seen.append(tag)
        if tag == "meta":
            self.charset = dict(attrs).get("charset")
        elif tag not in ("br", "hr", "img", "link"):
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack.pop() == tag, f"</{tag}> closes nothing"


def test_html_report_is_a_full_document(toy: dict[str, Path]) -> None:  # noqa: F811
    from sg2reports.cells import CellStore
    from sg2reports.manifest import load_manifest
    from sg2reports.outputs import write_report
    from sg2reports.runner import run_report

    report = run_report(load_manifest(toy["manifest"]), seeds=2, store=CellStore(toy["root"] / "cells"),
                        registry=Counting().registry())
    page = next(p for p in write_report(report, toy["root"] / "out") if p.suffix == ".html")
    parser = _Document()
    parser.feed(page.read_text(encoding="utf-8"))
    parser.close()
    assert parser.doctype.lower() == "doctype html" and parser.charset == "utf-8" and not parser.stack
    assert parser.seen[:4] == ["html", "head", "meta", "title"] and "table" in parser.seen


@pytest.mark.parametrize("name", ["shapes32-early.sg2", "shapes32-final.sg2"])
def test_info_verify_passes_on_the_shipped_networks(name: str) -> None:
    network = ROOT / "sg2eval" / "builtin" / "assets" / name
    result = CliRunner().invoke(cli, ["info", str(network), "--verify", "--json"])
    assert result.exit_code == 0, result.output
    verify = json.loads(result.output)["verify"]
    # "exact" where this CPU renders the manifest's bytes; another CPU's kernels may round one pixel the
    # other way ("close": statistics within the tolerance), which the check also counts as verified.
    assert verify["status"] in ("exact", "close") and verify["fingerprint_from"] == "builtin manifest"
    assert verify["max_stat_diff"] <= 1e-5


def test_help_lists_whole_sentences() -> None:
    output = CliRunner().invoke(cli, ["--help"], terminal_width=80).output
    listed = output.split("Commands:")[1].strip().splitlines()
    assert len(listed) == len([n for n in SHORT_HELP if " " not in n])
    for line in listed:
        assert line.rstrip().endswith(".") and "..." not in line, line
    for group in ("ops", "weights", "classifiers", "datasets"):
        sub = CliRunner().invoke(cli, [group, "--help"], terminal_width=80).output.split("Commands:")[1]
        assert all(line.rstrip().endswith(".") for line in sub.strip().splitlines()), (group, sub)


def test_docs_show_no_machine_paths() -> None:
    for doc in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        text = doc.read_text(encoding="utf-8")
        for path in ("/work/", "/root/", "/home/", "/tmp/wdemo"):
            assert path not in text, (doc.name, path)
