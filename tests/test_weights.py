"""Weight finder: search order, verification, warnings, downloads (faked) and the missing-file error."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import socket
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import sg2eval.weights as weights
from sg2eval.cli.main import cli
from sg2eval.errors import Sg2evalError
from sg2eval.weights import UnverifiedWeightsWarning, find_weights, sniff_format
from tests.helpers.fake_weights import isolate_weight_search, write_torchscript

PAYLOAD = b"pretend weights " * 64


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return isolate_weight_search(monkeypatch, tmp_path)


def publish_hash(monkeypatch: pytest.MonkeyPatch, kind: str, payload: bytes, prefix: bool = False) -> None:
    """Pretend ``payload`` is the official file of ``kind`` (full hash, or torchvision-style prefix)."""
    digest = hashlib.sha256(payload).hexdigest()
    entry = weights.KNOWN[kind]
    changes = {"sha256": None, "sha256_prefix": digest[:8]} if prefix else {"sha256": digest}
    monkeypatch.setitem(weights.KNOWN, kind, dataclasses.replace(entry, **changes))


def put(path: Path, payload: bytes = PAYLOAD) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)
    return path


def dnnlib_name(kind: str) -> str:
    entry = weights.KNOWN[kind]
    return hashlib.md5(entry.url.encode()).hexdigest() + "_" + entry.filename


def test_search_order_explicit_env_ours_hub_dnnlib_cleanfid(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kind, name = "inception-nv", "inception-2015-12-05.pt"
    monkeypatch.setenv("SG2EVAL_WEIGHTS", str(root / "mine"))
    places = [
        ("$SG2EVAL_WEIGHTS", put(root / "mine" / name)),
        ("sg2eval cache", put(root / "sg2eval" / "weights" / name)),
        ("torch hub", put(root / "torch" / "hub" / "checkpoints" / name)),
        ("dnnlib cache", put(root / "dnnlib" / "downloads" / dnnlib_name(kind))),
        ("clean-fid /tmp", put(root / "tmp" / name)),
    ]
    explicit = put(root / "elsewhere" / "my-copy.pt")
    assert find_weights(kind, explicit=explicit).origin == "explicit"
    for origin, path in places:
        found = find_weights(kind)
        assert (found.origin, found.path) == (origin, path)
        path.unlink()
    with pytest.raises(Sg2evalError):
        find_weights(kind)


def test_dnnlib_cache_follows_home_without_env(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DNNLIB_CACHE_DIR")
    path = put(root / "home" / ".cache" / "dnnlib" / "downloads" / dnnlib_name("vgg16-nv"))
    assert find_weights("vgg16-nv").path == path


def test_torch_fidelity_file_name_is_found_in_torch_hub(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    publish_hash(monkeypatch, "inception-pth", PAYLOAD)
    path = put(root / "torch" / "hub" / "checkpoints" / "weights-inception-2015-12-05-6726825d.pth")
    found = find_weights("inception-pth")
    assert (found.path, found.verified, found.check) == (path, True, "sha256 matches")


def test_nvidia_files_have_no_published_hash(root: Path) -> None:
    put(root / "sg2eval" / "weights" / "vgg16.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = find_weights("vgg16-nv")
    assert not found.verified and found.check == "no published hash"
    assert found.sha256 == hashlib.sha256(PAYLOAD).hexdigest()


def test_torchvision_prefix_check(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    publish_hash(monkeypatch, "vgg16-tv", PAYLOAD, prefix=True)
    put(root / "torch" / "hub" / "checkpoints" / "vgg16-397923af.pth")
    found = find_weights("vgg16-tv")
    assert found.verified and "prefix" in found.check
    assert weights.KNOWN["vgg16-tv"].check("0" * 64)[0] is False
    # The real entry checks torchvision's published prefix.
    assert weights.KnownFile("x", "x", "u", "d", sha256_prefix="397923af").check("397923af" + "0" * 56)[0]


def test_wrong_hash_in_a_folder_is_skipped_with_warning(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    publish_hash(monkeypatch, "inception-pth", PAYLOAD)
    name = "pt_inception-2015-12-05-6726825d.pth"
    put(root / "sg2eval" / "weights" / name, b"truncated download")
    good = put(root / "torch" / "hub" / "checkpoints" / name)
    with pytest.warns(UnverifiedWeightsWarning, match="ignoring"):
        found = find_weights("inception-pth")
    assert found.path == good and found.verified


def test_explicit_file_with_other_hash_warns_and_is_unverified(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish_hash(monkeypatch, "inception-pth", PAYLOAD)
    other = put(root / "fine-tuned.pth", b"someone else's weights")
    with pytest.warns(UnverifiedWeightsWarning, match="unverified"):
        found = find_weights("inception-pth", explicit=other)
    assert (found.path, found.verified, found.origin) == (other, False, "explicit")
    official = put(root / "copy.pth")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert find_weights("inception-pth", explicit=official).verified


def test_explicit_file_must_exist(root: Path) -> None:
    with pytest.raises(Sg2evalError, match="does not exist"):
        find_weights("vgg16-nv", explicit=root / "nope.pt")


def test_missing_weights_error_names_file_url_and_folder(root: Path) -> None:
    with pytest.raises(Sg2evalError) as info:
        find_weights("inception-pth")
    message = str(info.value)
    assert "pt_inception-2015-12-05-6726825d.pth" in message
    assert weights.KNOWN["inception-pth"].url in message
    assert str(root / "sg2eval" / "weights") in message
    assert "SG2EVAL_OFFLINE" in message and "\n" not in message


def test_several_kinds_are_all_searched_before_download(root: Path) -> None:
    put(root / "tmp" / "inception-2015-12-05.pt")
    found = find_weights(["inception-pth", "inception-nv"])
    assert (found.kind, found.origin) == ("inception-nv", "clean-fid /tmp")


def fake_downloader(payload: bytes, calls: list[str]) -> Callable[[str, Path], None]:
    def fetch(url: str, dest: Path) -> None:
        calls.append(url)
        dest.write_bytes(payload)

    return fetch


def test_download_goes_to_our_cache_and_is_verified(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SG2EVAL_OFFLINE")
    publish_hash(monkeypatch, "inception-pth", PAYLOAD)
    calls: list[str] = []
    monkeypatch.setattr(weights, "DOWNLOADER", fake_downloader(PAYLOAD, calls))
    found = find_weights("inception-pth")
    assert calls == [weights.KNOWN["inception-pth"].url]
    assert found.origin == "downloaded" and found.verified
    assert found.path == root / "sg2eval" / "weights" / "pt_inception-2015-12-05-6726825d.pth"
    assert find_weights("inception-pth").origin == "sg2eval cache"  # no second download
    assert len(calls) == 1


def test_download_with_wrong_hash_leaves_nothing(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SG2EVAL_OFFLINE")
    publish_hash(monkeypatch, "inception-pth", PAYLOAD)
    monkeypatch.setattr(weights, "DOWNLOADER", fake_downloader(b"an error page", []))
    with pytest.raises(Sg2evalError, match="differs"):
        find_weights("inception-pth")
    assert list((root / "sg2eval" / "weights").iterdir()) == []


def test_failed_download_is_one_clear_error(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SG2EVAL_OFFLINE")

    def unreachable(url: str, dest: Path) -> None:
        raise OSError("Name or service not known")

    monkeypatch.setattr(weights, "DOWNLOADER", unreachable)
    with pytest.raises(Sg2evalError, match="download failed: Name or service not known") as info:
        find_weights("vgg16-nv")
    assert weights.KNOWN["vgg16-nv"].url in str(info.value)


def test_download_can_be_refused_per_call(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SG2EVAL_OFFLINE")
    with pytest.raises(Sg2evalError, match="downloads are off"):
        find_weights("vgg16-nv", download_missing=False)


def test_lpips_linear_layers_come_from_the_wheel_verified(root: Path) -> None:
    found = find_weights("lpips-vgg-lin")
    assert found.origin == "lpips wheel" and found.verified
    assert found.path.stat().st_size == 7289  # docs/facts.md, "Weight files"


def test_unknown_kind(root: Path) -> None:
    with pytest.raises(Sg2evalError, match="unknown weight kind"):
        find_weights("resnet")


def test_sniff_format(tmp_path: Path) -> None:
    torch.save({"a": torch.zeros(2)}, tmp_path / "new.pth")
    torch.save({"a": torch.zeros(2)}, tmp_path / "old.pth", _use_new_zipfile_serialization=False)
    write_torchscript(torch.nn.Linear(2, 2), tmp_path / "m.pt")
    (tmp_path / "junk.bin").write_bytes(b"GIF89a")
    formats = [sniff_format(tmp_path / n) for n in ("new.pth", "old.pth", "m.pt", "junk.bin")]
    assert formats == ["torch-zip", "pickle", "torchscript", "unknown"]


def test_cli_weights_list(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    put(root / "torch" / "hub" / "checkpoints" / "vgg16.pt")
    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(cli, ["weights", "list"])
    assert result.exit_code == 0, result.output
    lines = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") > 3}
    assert "torch hub" in lines["vgg16-nv"] and "no published hash" in lines["vgg16-nv"]
    assert "lpips wheel" in lines["lpips-vgg-lin"] and "yes" in lines["lpips-vgg-lin"]
    assert "missing" in lines["inception-pth"]
    assert weights.KNOWN["inception-pth"].url in result.output.replace("\n", "")


# ----------------------------------------------------------------------------------------------------------
# sg2eval weights fetch, against a loopback HTTP server standing in for $SG2EVAL_WEIGHTS_MIRROR.


@pytest.fixture
def mirror(root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder served on 127.0.0.1 (a thread, stopped after the test) named by $SG2EVAL_WEIGHTS_MIRROR;
    the real downloader (urllib) is back in place."""
    folder = root / "served"
    folder.mkdir()
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(weights, "DOWNLOADER", weights.urllib_download)
    monkeypatch.setenv("SG2EVAL_WEIGHTS_MIRROR", f"http://127.0.0.1:{server.server_address[1]}/files/")
    try:
        yield folder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def translate_path(self, path: str) -> str:
        return super().translate_path(path.removeprefix("/files"))

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_fetch_places_a_verified_file_from_the_mirror(root: Path, mirror: Path, monkeypatch) -> None:
    publish_hash(monkeypatch, "inception-pth", PAYLOAD)
    put(mirror / "pt_inception-2015-12-05-6726825d.pth")
    result = CliRunner().invoke(cli, ["weights", "fetch", "inception-pth"])  # SG2EVAL_OFFLINE=1 is set
    assert result.exit_code == 0, result.output
    placed = root / "sg2eval" / "weights" / "pt_inception-2015-12-05-6726825d.pth"
    assert placed.read_bytes() == PAYLOAD
    assert f"inception-pth: {placed} (downloaded;" in result.output
    assert "verified: sha256 matches" in result.output
    again = CliRunner().invoke(cli, ["weights", "fetch", "inception-pth"])
    assert "(sg2eval cache;" in again.output and "fetching" not in again.output


def test_fetch_refuses_a_file_with_the_wrong_hash(root: Path, mirror: Path, monkeypatch) -> None:
    publish_hash(monkeypatch, "inception-pth", PAYLOAD)
    put(mirror / "pt_inception-2015-12-05-6726825d.pth", b"an error page")
    result = CliRunner().invoke(cli, ["weights", "fetch", "inception-pth"])
    assert result.exit_code == 2 and "sha256 differs from the published hash" in result.output
    assert [p for p in (root / "sg2eval").rglob("*") if p.is_file()] == []  # nothing placed, no temporary


def test_fetch_when_unreachable_says_so_in_one_line(root: Path, mirror: Path, monkeypatch) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("SG2EVAL_WEIGHTS_MIRROR", f"http://127.0.0.1:{port}")
    result = CliRunner().invoke(cli, ["weights", "fetch", "vgg16-nv"])
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()[1:]  # after "fetching vgg16.pt from ..."
    url, target = f"http://127.0.0.1:{port}/vgg16.pt", root / "sg2eval" / "weights" / "vgg16.pt"
    assert line.startswith("Error: cannot download vgg16.pt (") and "refused" in line
    assert line.endswith(f"download {url} by hand and put it in {target}"), line


def test_fetch_all_fetches_what_is_missing_and_reports_each_failure(root: Path, mirror: Path, monkeypatch):
    for kind in ("inception-pth", "vgg16-tv"):
        publish_hash(monkeypatch, kind, PAYLOAD, prefix=kind == "vgg16-tv")
    put(mirror / "pt_inception-2015-12-05-6726825d.pth")
    put(mirror / "vgg16-397923af.pth")
    put(mirror / "vgg16.pt")
    result = CliRunner().invoke(cli, ["weights", "fetch"])
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "inception-2015-12-05.pt" in errors[0]  # not served: 404
    fetched = {line.split(":")[0] for line in result.stdout.splitlines()}
    assert fetched == {"inception-pth", "vgg16-nv", "vgg16-tv", "lpips-vgg-lin"}
    assert "(lpips wheel;" in result.stdout
