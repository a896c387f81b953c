"""Image sources: folder, zip, npy/npz and in-memory arrays, network files; order, colour, sizes, hashing."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch

from sg2eval.sources import (
    ArraySource,
    FolderSource,
    ImageSource,
    NetworkSource,
    ZipSource,
    open_source,
)
from sg2model.core.errors import Sg2Error
from sg2model.core.images import to_uint8


def collect(source: ImageSource, batch_size: int = 4, num: int | str | None = None) -> np.ndarray:
    return np.concatenate(list(source.iter_batches(batch_size, num)))


def write_images(folder: Path, images: dict[str, np.ndarray]) -> None:
    for name, pixels in images.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        PIL.Image.fromarray(pixels).save(path)


@pytest.fixture()
def rgb_images() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    names = ["b/2.png", "a.png", "b/10.png", "c/x.webp", "c/y.png"]
    return {name: rng.integers(0, 256, (8, 6, 3), dtype=np.uint8) for name in names}


def test_folder_is_recursive_sorted_and_ignores_other_files(
    tmp_path: Path, rgb_images: dict[str, np.ndarray]
) -> None:
    write_images(tmp_path, rgb_images)
    (tmp_path / "notes.txt").write_text("not an image")
    source = open_source(tmp_path)
    assert isinstance(source, FolderSource)
    assert source.names == ["a.png", "b/10.png", "b/2.png", "c/x.webp", "c/y.png"]  # string order
    batches = list(source.iter_batches(2))
    assert [b.shape for b in batches] == [(2, 3, 8, 6), (2, 3, 8, 6), (1, 3, 8, 6)]
    images = np.concatenate(batches)
    assert images.dtype == np.uint8
    np.testing.assert_array_equal(images[0], rgb_images["a.png"].transpose(2, 0, 1))
    np.testing.assert_array_equal(images[2], rgb_images["b/2.png"].transpose(2, 0, 1))
    # WebP is saved lossy by default; it decodes to the right shape.
    assert images[3].shape == (3, 8, 6)


def test_num_takes_first_images_in_order_and_checks_bounds(
    tmp_path: Path, rgb_images: dict[str, np.ndarray]
) -> None:
    write_images(tmp_path, rgb_images)
    source = open_source(tmp_path)
    full = collect(source)
    np.testing.assert_array_equal(collect(source, 2, num=3), full[:3])
    assert len(collect(source, 2, num="all")) == 5
    with pytest.raises(Sg2Error, match="holds 5 images but 6"):
        collect(source, num=6)
    assert source.content_hash(3) != source.content_hash(5)


def test_zip_matches_folder_content_and_hash(tmp_path: Path, rgb_images: dict[str, np.ndarray]) -> None:
    folder = tmp_path / "images"
    write_images(folder, rgb_images)
    archive = tmp_path / "images.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for name in rgb_images:
            handle.write(folder / name, name)
    zipped, plain = open_source(archive), open_source(folder)
    assert isinstance(zipped, ZipSource)
    np.testing.assert_array_equal(collect(zipped), collect(plain))
    assert zipped.content_hash() == plain.content_hash()


def test_changing_one_byte_changes_the_hash(tmp_path: Path, rgb_images: dict[str, np.ndarray]) -> None:
    write_images(tmp_path, rgb_images)
    before = open_source(tmp_path).content_hash()
    pixels = rgb_images["c/y.png"].copy()
    pixels[0, 0, 0] ^= 1
    write_images(tmp_path, {"c/y.png": pixels})
    assert open_source(tmp_path).content_hash() != before
    # A rename alone also changes it (the relative path is part of the content).
    (tmp_path / "c" / "y.png").rename(tmp_path / "c" / "z.png")
    assert open_source(tmp_path).content_hash() != before


def test_grayscale_stays_single_channel_and_rgba_drops_alpha(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    gray = rng.integers(0, 256, (5, 7), dtype=np.uint8)
    rgba = rng.integers(0, 256, (5, 7, 4), dtype=np.uint8)
    write_images(tmp_path / "g", {"0.png": gray, "1.png": gray[::-1].copy()})
    write_images(tmp_path / "a", {"0.png": rgba})
    gray_images = collect(open_source(tmp_path / "g"))
    assert gray_images.shape == (2, 1, 5, 7)
    np.testing.assert_array_equal(gray_images[0, 0], gray)
    rgba_images = collect(open_source(tmp_path / "a"))
    assert rgba_images.shape == (1, 3, 5, 7)
    np.testing.assert_array_equal(rgba_images[0], rgba[..., :3].transpose(2, 0, 1))


def test_mixed_sizes_or_channels_name_the_offending_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    write_images(tmp_path / "s", {"a.png": rng.integers(0, 256, (8, 8, 3), dtype=np.uint8),
                                  "b.png": rng.integers(0, 256, (8, 9, 3), dtype=np.uint8)})  # fmt: skip
    with pytest.raises(Sg2Error, match=r"s/b\.png is 9x8 with 3 channels but the first image is 8x8"):
        collect(open_source(tmp_path / "s"))
    write_images(tmp_path / "c", {"a.png": rng.integers(0, 256, (8, 8, 3), dtype=np.uint8),
                                  "b.png": rng.integers(0, 256, (8, 8), dtype=np.uint8)})  # fmt: skip
    with pytest.raises(Sg2Error, match=r"c/b\.png is 8x8 with 1 channel but"):
        collect(open_source(tmp_path / "c"), batch_size=1)


def test_unreadable_and_missing_sources(tmp_path: Path) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.png").write_bytes(b"not a png")
    with pytest.raises(Sg2Error, match=r"x\.png is not a readable image"):
        collect(open_source(tmp_path / "bad"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(Sg2Error, match="contains no"):
        open_source(tmp_path / "empty")
    with pytest.raises(Sg2Error, match="does not exist"):
        open_source(tmp_path / "nowhere")
    (tmp_path / "x.txt").write_text("?")
    with pytest.raises(Sg2Error, match="cannot tell"):
        open_source(tmp_path / "x.txt")


def test_arrays_npy_npz_layouts(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    nhwc = rng.integers(0, 256, (6, 5, 7, 3), dtype=np.uint8)
    nchw = nhwc.transpose(0, 3, 1, 2)
    np.save(tmp_path / "a.npy", nhwc)
    np.savez(tmp_path / "b.npz", images=nchw, labels=np.arange(6))
    np.savez(tmp_path / "c.npz", nhwc[..., 0])  # [N, H, W] grayscale, single unnamed array
    from_npy, from_npz = open_source(tmp_path / "a.npy"), open_source(tmp_path / "b.npz")
    assert isinstance(from_npy, ArraySource) and from_npy.kind == "npy"
    np.testing.assert_array_equal(collect(from_npy), nchw)
    np.testing.assert_array_equal(collect(from_npz), nchw)
    assert from_npy.content_hash() == from_npz.content_hash() == ArraySource(nhwc).content_hash()
    assert collect(open_source(tmp_path / "c.npz")).shape == (6, 1, 5, 7)
    rgba = rng.integers(0, 256, (2, 6, 5, 4), dtype=np.uint8)
    np.testing.assert_array_equal(collect(ArraySource(rgba)), rgba[..., :3].transpose(0, 3, 1, 2))


def test_array_errors() -> None:
    with pytest.raises(Sg2Error, match="cannot tell NHWC from NCHW"):
        ArraySource(np.zeros((2, 3, 3, 3), np.uint8))
    assert collect(ArraySource(np.zeros((2, 3, 3, 3), np.uint8), layout="NHWC")).shape == (2, 3, 3, 3)
    with pytest.raises(Sg2Error, match="must be uint8"):
        ArraySource(np.zeros((2, 8, 8, 3), np.float32))
    with pytest.raises(Sg2Error, match="expected 1, 3 or 4"):
        ArraySource(np.zeros((2, 8, 8, 5), np.uint8), layout="NHWC")


def tiny_network(path: Path, c_dim: int = 0) -> Path:
    from sg2model import Generator, save_network

    torch.manual_seed(0)
    G = Generator(z_dim=16, c_dim=c_dim, w_dim=16, img_resolution=16, img_channels=3, channel_base=256,
                  channel_max=32, mapping_kwargs={"num_layers": 2}).eval()  # fmt: skip
    with torch.no_grad():
        for name, param in G.named_parameters():
            if name.endswith("noise_strength"):
                param.fill_(0.5)  # make noise visible (it starts at 0)
    return save_network(path, G_ema=G)


def test_network_source_generates_by_seed_independently_of_batch_size(tmp_path: Path) -> None:
    path = tiny_network(tmp_path / "g.sg2")
    source = open_source(path, seed=5)
    assert isinstance(source, NetworkSource)
    whole = collect(source, batch_size=6, num=6)
    assert whole.shape == (6, 3, 16, 16) and whole.dtype == np.uint8
    np.testing.assert_array_equal(collect(source, batch_size=4, num=6), whole)
    shifted = collect(open_source(path, seed=7), batch_size=3, num=4)
    np.testing.assert_array_equal(shifted, whole[2:6])  # image i uses seed + i
    const = collect(open_source(path, seed=5, noise_mode="const"), num=6)
    assert not np.array_equal(const, whole)  # random noise is on by default and matters
    assert source.resolve_num(None) == 50_000
    with pytest.raises(Sg2Error, match="finite source"):
        source.resolve_num("all")


def test_network_source_conversion_truncation_and_hash(tmp_path: Path) -> None:
    from sg2model import load_network

    path = tiny_network(tmp_path / "g.sg2")
    source = NetworkSource(path, seed=0, noise_mode="const")
    G = load_network(path).generator
    z = torch.from_numpy(np.random.RandomState(0).randn(1, 16)).float()
    with torch.no_grad():
        raw = G(z, None, noise_mode="const")
    expected = (raw * 127.5 + 128).clamp(0, 255).to(torch.uint8).numpy()
    np.testing.assert_array_equal(collect(source, num=1), expected)
    assert to_uint8(torch.tensor([-1.01, -1.0, 0.0, 0.999, 1.0, 2.0])).tolist() == [0, 0, 128, 255, 255, 255]
    truncated = NetworkSource(path, seed=0, truncation=0.5, noise_mode="const")
    assert not np.array_equal(collect(truncated, num=1), expected)
    hashes = {NetworkSource(path, seed=s, truncation=t).content_hash() for s, t in [(0, 1), (1, 1), (0, 0.5)]}
    assert len(hashes) == 3
    assert source.describe()["network_sha256"] == load_network(path).sha256


def test_conditional_network_classes(tmp_path: Path) -> None:
    path = tiny_network(tmp_path / "c.sg2", c_dim=4)
    fixed = collect(NetworkSource(path, class_idx=2, noise_mode="const"), num=3)
    drawn = collect(NetworkSource(path, noise_mode="const"), num=3)
    assert fixed.shape == drawn.shape == (3, 3, 16, 16)
    with pytest.raises(Sg2Error, match="out of range"):
        NetworkSource(path, class_idx=4)
    with pytest.raises(Sg2Error, match="unconditional"):
        NetworkSource(tiny_network(tmp_path / "u.sg2"), class_idx=0)
