"""Crafted network, array and detector files (tests/helpers/hostile_files.py): each is refused in one line,
leaves the process unharmed (torch and our loaders still read clean files right), never kills it with a
signal and never makes it allocate what the file merely claims."""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from sg2eval.cli.main import cli
from sg2eval.errors import Sg2evalError
from sg2eval.weights import load_state_file, load_torchscript_file
from sg2model import load_network
from sg2model.core.errors import Sg2Error
from sg2model.io.ada_pickle import AdaUnpickler
from sg2model.io.restricted_unpickler import NUMPY_GLOBALS, RestrictedUnpickler
from tests.helpers import hostile_files as H
from tests.helpers import nvidia_pickles as nvp
from tests.helpers.fake_weights import write_nvidia_inception_torchscript
from tests.test_network_io import snapshot_kwargs, snapshot_networks

ROOT = Path(__file__).resolve().parents[1]
CLI = "import sys; from sg2eval.cli.main import cli; cli(sys.argv[1:], prog_name='sg2eval')"
Writer = Callable[[Path], Path]

TAMPERING: dict[str, Writer] = {
    "build-on-rebuild-function": H.defaults_on_rebuild_function,
    "function-from-storage-bytes": H.defaults_via_storage_bytes,
    "torch-function-with-file-arguments": H.torch_function_called_with_file_arguments,
}
HUGE_NETWORKS: dict[str, Writer] = {
    "sg2-config": H.huge_sg2,
    "sg2-config-within-limits": H.huge_sg2_within_limits,
    "ada-kwargs": H.huge_ada_kwargs,
    "ada-tensor": H.huge_tensor_ada_pickle,
    "ada-tensor-overrun": H.storage_overrun_ada_pickle,
    "tf-kwargs": H.huge_tf_kwargs,
}
HUGE_ARRAYS: dict[str, Writer] = {"npy": H.huge_npy, "npz": H.huge_npz}


def _one_line(error: BaseException) -> str:
    message = str(error)
    assert message and "\n" not in message and "Traceback" not in message
    return message


def _torch_file(values: torch.Tensor) -> io.BytesIO:
    buffer = io.BytesIO()
    torch.save(values, buffer)
    buffer.seek(0)
    return buffer


def _assert_loaders_unharmed(tmp_path: Path) -> None:
    """torch.load (weights only and plain pickles) and our ada loader still return the stored values."""
    known = torch.tensor([[1.5, -2.0, 3.25], [0.0, 4.0, -8.5]])
    assert torch._utils._rebuild_tensor_v2.__defaults__ == (None,)
    loaded = torch.load(_torch_file(known), weights_only=True)
    assert not loaded.is_neg() and torch.equal(loaded, known)
    assert torch.equal(pickle.loads(pickle.dumps(known)), known)
    assert torch.equal(AdaUnpickler(io.BytesIO(pickle.dumps(known)), "known").load(), known)
    G, D = snapshot_networks("noaug-fp32")
    data = nvp.ada_snapshot(G, D, G, *snapshot_kwargs("noaug-fp32"), None, None)
    bundle = load_network(nvp.write_pickle(tmp_path / "clean.pkl", data))
    for name, value in G.state_dict().items():
        torch.testing.assert_close(bundle.generator.state_dict()[name], value, rtol=0, atol=0)


@pytest.mark.parametrize("attack", sorted(TAMPERING))
def test_a_pickle_cannot_modify_allowed_functions(tmp_path: Path, attack: str) -> None:
    path = TAMPERING[attack](tmp_path / "evil.pkl")
    with pytest.raises(Sg2Error) as info:
        load_network(path)
    assert "refuses" in _one_line(info.value)
    _assert_loaders_unharmed(tmp_path)


def _stream(value: object) -> io.BytesIO:
    return io.BytesIO(H.stream(value))


def test_only_allowed_globals_are_called_and_only_containers_filled() -> None:
    array = H.call(H.glob("numpy.core.multiarray", "_reconstruct"), H.glob("numpy", "ndarray"), (0,), b"b")
    calls_result = H.Raw(array.ops + H.op(()) + pickle.REDUCE)  # call the returned ndarray
    fills_array = H.Raw(array.ops + H.op(0) + H.op(1) + pickle.SETITEM)
    fills_class = H.Raw(H.glob("numpy", "ndarray").ops + pickle.MARK + H.op(1) + pickle.APPENDS)
    for ops, message in ((calls_result, "calls a ndarray"), (fills_array, "adds items to a ndarray"),
                         (fills_class, "adds items to a type")):  # fmt: skip
        with pytest.raises(Sg2Error, match=message):
            RestrictedUnpickler(_stream(ops), NUMPY_GLOBALS, "evil").load()
    plain = {"a": [1, 2, {3}], "b": (4.0, None)}
    assert RestrictedUnpickler(io.BytesIO(pickle.dumps(plain, protocol=4)), {}, "plain").load() == plain


def test_tensor_layouts_are_checked_against_the_storage() -> None:
    def tensor(size: tuple[int, ...], stride: tuple[int, ...], offset: int = 0) -> torch.Tensor:
        ops = H.tensor_ops(np.arange(6, dtype="<f4").tobytes(), 6, size, stride, offset)
        return AdaUnpickler(_stream(ops), "t").load()

    torch.testing.assert_close(tensor((2, 2), (1, 2), 1), torch.tensor([[1.0, 3.0], [2.0, 4.0]]))
    assert tensor((0, 10**12), (1, 1)).numel() == 0
    for size, stride, offset in (((2, 3), (3, 1), 1), ((7,), (1,), 0), ((3, 3), (0, 0), 0), ((2,), (-1,), 5)):
        with pytest.raises(Sg2Error) as info:
            tensor(size, stride, offset)
        _one_line(info.value)
    storage = H.legacy_storage_bytes(H.storage_main("FloatStorage", "0", 6), ["0"], b"\x06" + b"\0" * 10)
    with pytest.raises(Sg2Error, match="claims 6 elements"):
        AdaUnpickler(_stream(H.call(H.glob("torch.storage", "_load_from_bytes"), storage)), "s").load()


def _run(*argv: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """``python *argv`` in a fresh process (a crash there is a negative return code, not a dead suite)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("", "datasets", "reports"))}
    return subprocess.run(
        [sys.executable, *argv], capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env
    )


@pytest.mark.parametrize("numpy_module", ["numpy.core.multiarray", "numpy._core.multiarray"])
def test_object_arrays_over_raw_bytes_end_in_one_line_not_a_signal(tmp_path: Path, numpy_module: str) -> None:
    path = H.object_array_tf_pickle(tmp_path / "evil.pkl", numpy_module)
    for command in (["info", str(path)], ["convert", str(path), "--out", str(tmp_path / "out.sg2")]):
        result = _run("-c", CLI, *command)
        assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
        lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
        assert len(lines) == 1 and "dtype" in lines[0] and "Traceback" not in result.stderr
    assert not (tmp_path / "out.sg2").exists()
    folder = tmp_path / "classifiers"
    folder.mkdir()
    H.object_array_tf_pickle(folder / "celebahq-classifier-00-male.pkl", numpy_module)
    result = _run(
        "-c",
        "from sg2eval.classifiers import classifier_set as c; from sg2model.core.errors import Sg2Error\n"
        f"try:\n    c._read_official_folder(c.Path({str(folder)!r}), 'cpu')\n"
        "except Sg2Error as e:\n    print('refused', e)"
    )
    assert result.returncode == 0 and result.stdout.startswith("refused"), result.stderr[-2000:]


BOUNDED_LOADS = """
import json, resource, sys
import sg2model.io.ada_pickle, sg2model.io.native, sg2model.io.tf_convert
from sg2datasets.arrays import load_image_array
from sg2model import load_network
from sg2model.core.errors import Sg2Error
from pathlib import Path
vm = [int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmSize")][0]
resource.setrlimit(resource.RLIMIT_AS, (vm + (3 << 29), vm + (3 << 29)))  # 1.5 GB above the imports
out = {}
for kind, path in json.loads(sys.argv[1]).items():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        (load_image_array if kind.startswith("array") else load_network)(Path(path))
        message = "LOADED"
    except Sg2Error as error:
        message = str(error)
    out[kind] = [message, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024]
print(json.dumps(out))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmSize from /proc (Linux)")
def test_claimed_sizes_are_checked_before_allocating(tmp_path: Path) -> None:
    files = {f"network-{k}": str(w(tmp_path / f"{k}.{'sg2' if 'sg2' in k else 'pkl'}"))
             for k, w in HUGE_NETWORKS.items()}  # fmt: skip
    files |= {f"array-{k}": str(w(tmp_path / f"images.{k}")) for k, w in HUGE_ARRAYS.items()}
    assert all(Path(p).stat().st_size < 3000 for p in files.values())
    code = f"import sys; sys.argv = ['x', {json.dumps(files)!r}]\n" + textwrap.dedent(BOUNDED_LOADS)
    result = _run("-c", code)
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.splitlines()[-1])
    assert set(outcome) == set(files)
    for kind, (message, grown_mb) in outcome.items():
        assert message != "LOADED" and "\n" not in message, kind
        assert any(w in message for w in ("damaged", "outside", "claims", "beyond")), (kind, message)
        assert grown_mb < 300, (kind, grown_mb)  # before the checks: 2-4 GB, or an allocation error


def _cli(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.output


def _real_folder(tmp_path: Path) -> Path:
    import PIL.Image

    real = tmp_path / "real"
    real.mkdir()
    for i in range(2):
        PIL.Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(real / f"{i}.png")
    return real


def test_cli_refuses_hostile_networks_and_arrays_in_one_line(tmp_path: Path) -> None:
    networks = [
        H.huge_sg2(tmp_path / "huge.sg2"),
        H.huge_ada_kwargs(tmp_path / "kwargs.pkl"),
        H.defaults_on_rebuild_function(tmp_path / "build.pkl"),
        H.sg2_with_metadata(tmp_path / "j.sg2", format="sg2model-network", format_version="1", networks="{"),
    ]
    weights = write_nvidia_inception_torchscript(tmp_path / "inception-2015-12-05.pt", seed=0)
    real = _real_folder(tmp_path)
    for path in networks:
        for args in (("info", path), ("convert", path, "--out", tmp_path / "out.sg2")):
            code, output = _cli(*args)
            assert code == 2 and output.count("\n") == 1 and output.startswith("Error:"), (args, output)
    for fake in (*networks[:2], H.huge_npy(tmp_path / "huge.npy"), H.huge_npz(tmp_path / "huge.npz")):
        code, output = _cli("fid", "--real", real, "--fake", fake, "--num-fake", 2, "--weights", weights,
                            "--device", "cpu", "--no-cache")  # fmt: skip
        assert code == 2 and output.count("\n") == 1 and output.startswith("Error:"), (fake, output)
    assert not (tmp_path / "out.sg2").exists()


def _generator(**options: object) -> str:
    return json.dumps({"G": {"kind": "generator", **options}})


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"networks": "{"}, "malformed 'networks'"),
        ({}, "no 'networks'"),
        ({"networks": "[1, 2]"}, "no 'networks'"),
        ({"networks": _generator()}, "incomplete G config"),
        ({"networks": _generator(img_resolution=-4)}, "resolution -4"),
        ({"networks": _generator(img_resolution=16, z_dim=-1)}, "outside"),
        ({"networks": _generator(img_resolution="x")}, "resolution"),
        ({"networks": json.dumps({"H": {}})}, "malformed network entry"),
        ({"networks": json.dumps({}), "meta": "nope"}, "malformed 'meta'"),
    ],
)
def test_malformed_sg2_metadata_is_one_line(tmp_path: Path, metadata: dict[str, str], expected: str) -> None:
    header = {"format": "sg2model-network", "format_version": "1", **metadata}
    path = H.sg2_with_metadata(tmp_path / "bad.sg2", **header)
    with pytest.raises(Sg2Error) as info:
        load_network(path)
    assert expected in _one_line(info.value)


def test_hostile_detectors_and_weight_files_end_in_one_line(tmp_path: Path) -> None:
    script = H.broken_torchscript(tmp_path / "detector.pt")
    archive = H.hostile_torch_zip(tmp_path / "weights.pth")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(write_nvidia_inception_torchscript(tmp_path / "ok.pt", seed=0).read_bytes()[:3000])
    for path in (script, truncated):
        with pytest.raises(Sg2evalError) as info:
            load_torchscript_file(path, "cpu")
        _one_line(info.value)
    with pytest.raises(Sg2evalError) as info:
        load_state_file(archive, "Inception state dict")
    assert "Inception state dict" in _one_line(info.value)
    real = _real_folder(tmp_path)
    for option in (("--detector", f"torchscript:{script}"), ("--detector", f"torchscript:{truncated}"),
                   ("--weights", archive), ("--weights", script)):  # fmt: skip
        code, output = _cli("fid", "--real", real, "--fake", real, *option, "--device", "cpu", "--no-cache")
        assert code == 2 and output.count("\n") == 1 and output.startswith("Error:"), (option, output)
    _assert_loaders_unharmed(tmp_path)
