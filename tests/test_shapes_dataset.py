"""The built-in labelled shapes dataset and the labelled-dataset reader/writer."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner

from sg2datasets.labelled import LabelledDataset, read_attributes, write_labelled_zip
from sg2datasets.shapes import ATTRIBUTES, make_shapes, render, sample_params
from sg2eval.cli.main import cli
from sg2model.core.errors import Sg2Error


def test_at_least_ten_attributes() -> None:
    assert len(ATTRIBUTES) >= 10 and len(set(ATTRIBUTES)) == len(ATTRIBUTES)


def test_deterministic_by_seed_and_independent_of_count_and_chunks() -> None:
    images, attrs = make_shapes(40, 32, seed=3)
    again, attrs_again = make_shapes(40, 32, seed=3, chunk=7)
    np.testing.assert_array_equal(images, again)
    np.testing.assert_array_equal(attrs, attrs_again)
    prefix, prefix_attrs = make_shapes(15, 32, seed=3)
    np.testing.assert_array_equal(prefix, images[:15])
    np.testing.assert_array_equal(prefix_attrs, attrs[:15])
    other, other_attrs = make_shapes(40, 32, seed=4)
    assert not np.array_equal(other, images) and not np.array_equal(other_attrs, attrs)
    assert images.dtype == np.uint8 and images.shape == (40, 3, 32, 32)


def test_attributes_are_balanced_and_pairwise_independent() -> None:
    bits = sample_params(20_000, seed=0).attributes.astype(np.float64)  # [N, A]
    np.testing.assert_allclose(bits.mean(axis=0), 0.5, atol=0.015)
    corr = np.corrcoef(bits, rowvar=False)
    off_diagonal = corr[~np.eye(len(ATTRIBUTES), dtype=bool)]
    assert np.abs(off_diagonal).max() < 0.04  # 4.5 standard errors at N = 20 000


@pytest.mark.parametrize("resolution", [32, 64])
@pytest.mark.parametrize("name", ATTRIBUTES)
def test_every_attribute_visibly_changes_every_image(name: str, resolution: int) -> None:
    params = sample_params(32, seed=1)
    off = render(params.with_attribute(name, False), resolution).astype(np.int32)
    on = render(params.with_attribute(name, True), resolution).astype(np.int32)
    changed = (np.abs(on - off).max(axis=1) >= 40).sum(axis=(1, 2))  # [N] pixels changed by >= 40 levels
    assert changed.min() >= 2, f"{name} at {resolution}: an image changed in only {changed.min()} pixels"


def test_zip_roundtrip_and_dataset_json(tmp_path) -> None:
    images, attrs = make_shapes(30, 16, seed=2)
    path = tmp_path / "shapes.zip"
    write_labelled_zip(path, images, attrs, ATTRIBUTES, {"seed": 2})
    dataset = LabelledDataset(path)
    assert len(dataset) == 30 and dataset.resolution == 16 and dataset.channels == 3
    assert dataset.attribute_names == list(ATTRIBUTES)
    np.testing.assert_array_equal(dataset.read([0, 29, 7]), images[[0, 29, 7]])
    np.testing.assert_array_equal(dataset.labels([3, 4]), attrs[[3, 4]].astype(np.int8))
    with zipfile.ZipFile(path) as archive:
        payload = json.loads(archive.read("dataset.json"))
        names = [n for n in archive.namelist() if n.endswith(".png")]
    assert payload["labels"][5] == ["00000/img00000005.png", attrs[5].astype(int).tolist()]
    assert len(names) == 30


def test_labels_from_dataset_json_only_and_from_external_celeba_file(tmp_path) -> None:
    images, attrs = make_shapes(6, 16, seed=5)
    folder = tmp_path / "folder"
    for i, img in enumerate(images):
        (folder / "imgs").mkdir(parents=True, exist_ok=True)
        from PIL import Image

        Image.fromarray(img.transpose(1, 2, 0)).save(folder / "imgs" / f"{i:06d}.png")
    celeba = ["6", " ".join(ATTRIBUTES[:3])]
    celeba += [f"{i:06d}.jpg " + " ".join("1" if b else "-1" for b in attrs[i, :3]) for i in range(6)]
    labels = tmp_path / "list_attr.txt"
    labels.write_text("\n".join(celeba) + "\n")
    dataset = LabelledDataset(folder, labels)  # matched by file stem (.jpg label names, .png files)
    np.testing.assert_array_equal(dataset.labels(range(6)), attrs[:, :3].astype(np.int8))
    np.testing.assert_array_equal(dataset.read([4]), images[[4]])


def test_read_attributes_accepts_minus_one_and_rejects_other_values() -> None:
    table = read_attributes("image,a,b\nx.png,-1,1\ny.png,1,-1\n")
    assert table.loc["x.png"].tolist() == [0, 1] and table.loc["y.png"].tolist() == [1, 0]
    with pytest.raises(Sg2Error, match="0/1 or -1/1"):
        read_attributes("image,a\nx.png,2\n")


def test_missing_labels_is_a_clear_error(tmp_path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    from PIL import Image

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / "a.png")
    with pytest.raises(Sg2Error, match="--labels"):
        LabelledDataset(folder)


def test_make_shapes_cli(tmp_path) -> None:
    out = tmp_path / "data.zip"
    args = ["datasets", "make-shapes", "--num", "12", "--res", "16", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    dataset = LabelledDataset(out)
    images, attrs = make_shapes(12, 16, seed=0)
    np.testing.assert_array_equal(dataset.read(range(12)), images)
    np.testing.assert_array_equal(dataset.labels(range(12)), attrs.astype(np.int8))
