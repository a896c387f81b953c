"""Find, verify and (optionally) download the weight files of the feature detectors.

Every detector names a *kind* of weight file (:data:`KNOWN`). :func:`find_weights` looks for it in this order
and returns the first usable file:

1. the file the user passed explicitly (``--weights`` / ``weights=``);
2. the folder ``$SG2EVAL_WEIGHTS``;
3. our cache folder ``$SG2EVAL_CACHE/weights`` (default ``~/.cache/sg2eval/weights``);
4. the caches other tools already filled: torch hub (``$TORCH_HOME/hub/checkpoints``, used by torchvision,
   pytorch-fid, torch-fidelity and torchmetrics), NVIDIA dnnlib (``$DNNLIB_CACHE_DIR/downloads`` or
   ``~/.cache/dnnlib/downloads``, files named ``<md5 of URL>_<name>``), clean-fid's ``/tmp``, and for the
   LPIPS linear layers the copy shipped inside the ``lpips`` wheel;
5. a download from the official URL into our cache folder (atomic; verified by SHA-256 where a hash is
   published), unless ``SG2EVAL_OFFLINE=1``.

``sg2eval weights fetch [NAME|all]`` (:func:`fetch`) downloads the files ahead of time, on request (it
ignores ``SG2EVAL_OFFLINE``). ``$SG2EVAL_WEIGHTS_MIRROR`` (a base URL) replaces every official URL by
``<mirror>/<file name>``, for a mirror inside a network that cannot reach the official hosts; the hashes are
checked all the same.

Verification (docs/facts.md, "Weight files"): the Inception ``.pth`` and the LPIPS linear layers have
published SHA-256 hashes; torchvision publishes only the first 8 hex digits of the SHA-256 in the file name
(``vgg16-397923af.pth``), which is what torchvision itself checks; NVIDIA's TorchScript files have no
published hash, so they are used as "known name, no published hash" and recorded as unverified.
A file found in a search folder whose hash differs from the published one is skipped with a warning (it is
usually a partial download); an explicit file with a different hash is used with a warning and recorded as
unverified.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import tempfile
import urllib.request
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sg2eval.errors import Sg2evalError
from sg2eval.naming import current_weights_parameter, setting
from sg2model.core.files import atomic_path, sha256_file


class UnverifiedWeightsWarning(UserWarning):
    """A weight file's hash differs from the published one (or a found copy was skipped for that reason)."""


@dataclass(frozen=True)
class KnownFile:
    """One official weight file: its names, where it comes from and how it is verified."""

    kind: str
    filename: str
    url: str
    description: str
    sha256: str | None = None  # full published SHA-256
    sha256_prefix: str | None = None  # torchvision's published prefix (first 8 hex digits)
    aliases: tuple[str, ...] = ()  # other file names under which peers store the same bytes

    @property
    def names(self) -> tuple[str, ...]:
        return (self.filename, *self.aliases)

    def check(self, sha256: str) -> tuple[bool, str]:
        """``(verified, how)`` for a file with this SHA-256."""
        if self.sha256 is not None:
            ok = sha256 == self.sha256
            return ok, "sha256 matches" if ok else "sha256 differs from the published hash"
        if self.sha256_prefix is not None:
            ok = sha256.startswith(self.sha256_prefix)
            how = f"sha256 prefix {self.sha256_prefix} (torchvision's check)"
            return ok, f"{how} matches" if ok else f"{how} differs"
        return False, "no published hash"


_NV_METRICS = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics"

KNOWN: dict[str, KnownFile] = {
    k.kind: k
    for k in (
        KnownFile(
            kind="inception-pth",
            filename="pt_inception-2015-12-05-6726825d.pth",
            aliases=("weights-inception-2015-12-05-6726825d.pth",),
            url="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
            "pt_inception-2015-12-05-6726825d.pth",
            sha256="6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2",
            description="Inception-v3 2015-12-05 state dict (pytorch-fid / torch-fidelity), FID/KID",
        ),
        KnownFile(
            kind="inception-nv",
            filename="inception-2015-12-05.pt",
            url=f"{_NV_METRICS}/inception-2015-12-05.pt",
            description="Inception-v3 2015-12-05 TorchScript (stylegan2-ada-pytorch), FID/KID",
        ),
        KnownFile(
            kind="vgg16-nv",
            filename="vgg16.pt",
            url=f"{_NV_METRICS}/vgg16.pt",
            description="VGG16 TorchScript (stylegan2-ada-pytorch), P&R features and LPIPS",
        ),
        KnownFile(
            kind="vgg16-tv",
            filename="vgg16-397923af.pth",
            url="https://download.pytorch.org/models/vgg16-397923af.pth",
            sha256_prefix="397923af",
            description="torchvision VGG16 ImageNet state dict, P&R features and LPIPS backbone",
        ),
        KnownFile(
            kind="lpips-vgg-lin",
            filename="vgg.pth",
            url="https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/vgg.pth",
            sha256="a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868",
            description="LPIPS v0.1 linear layers for VGG (shipped in the lpips wheel)",
        ),
    )
}


@dataclass(frozen=True)
class WeightsFile:
    """A located weight file. ``origin`` says where it was found (``explicit``, ``$SG2EVAL_WEIGHTS``,
    ``sg2eval cache``, ``torch hub``, ``dnnlib cache``, ``clean-fid /tmp``, ``lpips wheel``, ``downloaded``);
    ``check`` says how ``verified`` was decided."""

    kind: str
    path: Path
    sha256: str
    verified: bool
    origin: str
    check: str

    def describe(self) -> dict[str, object]:
        """Provenance entry for a :class:`~sg2eval.result.Result`."""
        return {
            "kind": self.kind,
            "file": self.path.name,
            "path": str(self.path),
            "sha256": self.sha256,
            "verified": self.verified,
            "check": self.check,
            "origin": self.origin,
        }


def known(kind: str) -> KnownFile:
    """The :class:`KnownFile` of ``kind``; a clear error for unknown kinds."""
    if kind not in KNOWN:
        raise Sg2evalError(f"unknown weight kind {kind!r}; use one of {', '.join(KNOWN)}")
    return KNOWN[kind]


def our_cache_dir() -> Path:
    """``$SG2EVAL_CACHE/weights``, else ``~/.cache/sg2eval/weights`` (where downloads go)."""
    root = os.environ.get("SG2EVAL_CACHE")
    return Path(root) / "weights" if root else Path.home() / ".cache" / "sg2eval" / "weights"


def torch_hub_checkpoints_dir() -> Path:
    """torch hub's checkpoint folder (``$TORCH_HOME/hub/checkpoints``), shared by torchvision and peers."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def dnnlib_downloads_dir() -> Path:
    """NVIDIA dnnlib's download cache: ``$DNNLIB_CACHE_DIR/downloads`` or ``~/.cache/dnnlib/downloads``."""
    root = os.environ.get("DNNLIB_CACHE_DIR")
    return Path(root) / "downloads" if root else Path.home() / ".cache" / "dnnlib" / "downloads"


def cleanfid_dirs() -> list[Path]:
    """Where clean-fid leaves ``inception-2015-12-05.pt``: ``/tmp`` (and the system temp folder)."""
    dirs = [Path("/tmp"), Path(tempfile.gettempdir())]
    return list(dict.fromkeys(dirs))


def lpips_package_weights_dir() -> Path | None:
    """``lpips/weights/v0.1`` inside the installed ``lpips`` wheel, if the package is installed."""
    import importlib.util

    spec = importlib.util.find_spec("lpips")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "weights" / "v0.1"


def candidate_paths(kind: str) -> Iterator[tuple[str, Path]]:
    """Every place (origin, path) where a file of ``kind`` may already be, in search order."""
    entry = known(kind)
    folders: list[tuple[str, Path]] = []
    if os.environ.get("SG2EVAL_WEIGHTS"):
        folders.append(("$SG2EVAL_WEIGHTS", Path(os.environ["SG2EVAL_WEIGHTS"])))
    folders.append(("sg2eval cache", our_cache_dir()))
    folders.append(("torch hub", torch_hub_checkpoints_dir()))
    for origin, folder in folders:
        for name in entry.names:
            yield origin, folder / name
    url_md5 = hashlib.md5(entry.url.encode("utf-8")).hexdigest()
    dnnlib_dir = dnnlib_downloads_dir()
    if dnnlib_dir.is_dir():
        for path in sorted(dnnlib_dir.glob(f"{url_md5}_*")):
            yield "dnnlib cache", path
    if kind == "inception-nv":
        for folder in cleanfid_dirs():
            yield "clean-fid /tmp", folder / entry.filename
    if kind == "lpips-vgg-lin":
        package_dir = lpips_package_weights_dir()
        if package_dir is not None:
            yield "lpips wheel", package_dir / entry.filename


@functools.lru_cache(maxsize=64)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(path)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, memoized per (path, size, mtime) so repeated look-ups do not re-read 500 MB."""
    stat = path.stat()
    return _sha256_cached(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def _weights_file(entry: KnownFile, path: Path, origin: str) -> WeightsFile:
    digest = file_sha256(path)
    verified, check = entry.check(digest)
    return WeightsFile(entry.kind, path, digest, verified, origin, check)


def _hash_mismatch(entry: KnownFile, wf: WeightsFile) -> bool:
    return not wf.verified and (entry.sha256 is not None or entry.sha256_prefix is not None)


def locate(kind: str) -> WeightsFile | None:
    """The first already-present copy of ``kind`` (no download); copies with a wrong hash are skipped."""
    entry = known(kind)
    for origin, path in candidate_paths(kind):
        if not path.is_file():
            continue
        wf = _weights_file(entry, path, origin)
        if _hash_mismatch(entry, wf):
            warnings.warn(
                f"ignoring {path}: {wf.check}; delete it, or pass it explicitly to use it anyway",
                UnverifiedWeightsWarning,
                stacklevel=2,
            )
            continue
        return wf
    return None


def urllib_download(url: str, dest: Path) -> None:
    """Write the bytes at ``url`` to ``dest`` (plain urllib; the caller makes the write atomic)."""
    with urllib.request.urlopen(url, timeout=60) as response, open(dest, "wb") as handle:
        for chunk in iter(lambda: response.read(1 << 20), b""):
            handle.write(chunk)


#: The function that fetches a URL into a file. Tests replace it; it is never called when
#: ``SG2EVAL_OFFLINE=1`` or ``download=False``.
DOWNLOADER: Callable[[str, Path], None] = urllib_download


def offline() -> bool:
    """True when ``SG2EVAL_OFFLINE`` is set to a true value (1, true, yes)."""
    return os.environ.get("SG2EVAL_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def source_url(kind: str) -> str:
    """Where ``kind`` is downloaded from: ``$SG2EVAL_WEIGHTS_MIRROR/<file name>`` when that is set, else
    the official URL."""
    entry = known(kind)
    mirror = os.environ.get("SG2EVAL_WEIGHTS_MIRROR", "").strip()
    return f"{mirror.rstrip('/')}/{entry.filename}" if mirror else entry.url


def by_hand(kind: str) -> str:
    """Where to put ``kind`` after downloading it by hand."""
    return f"download {source_url(kind)} by hand and put it in {our_cache_dir() / known(kind).filename}"


def download(kind: str) -> WeightsFile:
    """Download ``kind`` from :func:`source_url` into :func:`our_cache_dir`; the file appears only once its
    hash checks out (or, for files without a published hash, once the download completed)."""
    entry = known(kind)
    url = source_url(kind)
    target = our_cache_dir() / entry.filename
    with atomic_path(target) as tmp:
        DOWNLOADER(url, tmp)
        digest = sha256_file(tmp)
        verified, check = entry.check(digest)
        if not verified and (entry.sha256 is not None or entry.sha256_prefix is not None):
            raise Sg2evalError(
                f"downloaded {url} but its {check} (got {digest}); nothing was kept. Try again, or "
                f"{by_hand(kind)}"
            )
    _sha256_cached.cache_clear()
    return WeightsFile(kind, target, digest, verified, "downloaded", check)


def fetch(kind: str) -> WeightsFile:
    """``sg2eval weights fetch``: :func:`download`, even with ``SG2EVAL_OFFLINE=1`` (this is the explicit
    request); a failed download raises one line naming the URL and where to put the file by hand."""
    try:
        return download(kind)
    except (OSError, ValueError) as error:  # urllib errors are OSErrors
        filename = known(kind).filename
        raise Sg2evalError(f"cannot download {filename} ({_reason(error)}); {by_hand(kind)}") from error


def _reason(error: BaseException) -> str:
    """A download error in a few words (urllib wraps the socket error in ``URLError.reason``)."""
    reason = getattr(error, "reason", None)
    return " ".join(str(reason if reason is not None else error).split())


def missing_message(kinds: Iterable[str], reason: str, passable: bool = True) -> str:
    """One line naming each missing file, its URL, the command that fetches it, the folder to put it in and,
    when the caller takes an explicit file (``passable``), the option or argument that passes one."""
    kinds = list(kinds)
    parts = [f"{known(k).filename} ({source_url(k)})" for k in kinds]
    explicit = setting(current_weights_parameter(), "FILE") if passable else None
    pass_it = f", or pass the file with {explicit}" if explicit else ""
    return (
        f"weights not found: {' or '.join(parts)}; {reason}. Run 'sg2eval weights fetch {kinds[0]}', or "
        f"download it into {our_cache_dir()} (or the folder named by $SG2EVAL_WEIGHTS){pass_it}"
    )


def from_explicit(kind: str, path: str | os.PathLike[str]) -> WeightsFile:
    """Use a file the user named. A hash that differs from the published one warns and marks it unverified."""
    entry = known(kind)
    file = Path(path).expanduser()
    if not file.is_file():
        given = setting(current_weights_parameter(), str(path))
        where = f" ({given})" if given else ""
        raise Sg2evalError(f"weights file {file} does not exist; check the path{where}")
    wf = _weights_file(entry, file, "explicit")
    if _hash_mismatch(entry, wf):
        warnings.warn(
            f"{file} is not the official {entry.filename} ({wf.check}); using it, recorded as unverified",
            UnverifiedWeightsWarning,
            stacklevel=2,
        )
    return wf


def find_weights(
    kind: str | Iterable[str],
    explicit: str | os.PathLike[str] | None = None,
    download_missing: bool | None = None,
    passable: bool = True,
) -> WeightsFile:
    """Locate the weight file of ``kind`` (or of the first of several interchangeable kinds).

    With ``explicit`` the named file is used (``kind`` must then be a single kind: the format it has).
    Otherwise every kind is looked for locally first, in the order given, and only then is the first kind
    downloaded. ``download_missing=None`` downloads unless ``SG2EVAL_OFFLINE=1``. ``passable=False``: the
    caller takes no explicit file of this kind, so the error does not tell the user to pass one.
    Raises :class:`Sg2evalError` naming the file, URL and folder when nothing works.
    """
    kinds = [kind] if isinstance(kind, str) else list(kind)
    for k in kinds:
        known(k)
    if explicit is not None:
        return from_explicit(kinds[0], explicit)
    for k in kinds:
        found = locate(k)
        if found is not None:
            return found
    allowed = (not offline()) if download_missing is None else download_missing
    if not allowed:
        reason = "downloads are off (SG2EVAL_OFFLINE=1)" if offline() else "downloads are off"
        raise Sg2evalError(missing_message(kinds, reason, passable))
    try:
        return download(kinds[0])
    except (OSError, ValueError) as error:  # urllib errors are OSErrors
        reason = f"download failed: {_reason(error)}"
        raise Sg2evalError(missing_message(kinds[:1], reason, passable)) from error


# What torch raises for a damaged, truncated or crafted weight file (pickle.UnpicklingError is a subclass of
# Exception raised for refused globals under weights_only=True).
DAMAGED_WEIGHTS_ERRORS: tuple[type[BaseException], ...] = (
    pickle.UnpicklingError,
    RuntimeError,
    EOFError,
    OSError,
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
    IndexError,
    MemoryError,
    zipfile.BadZipFile,
)


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0][:200] if lines else type(error).__name__


def load_state_file(path: str | os.PathLike[str], what: str) -> object:
    """``torch.load(path, weights_only=True)`` (tensors and containers only, no code runs) of a weight file;
    a damaged or crafted file raises one :class:`Sg2evalError` line naming ``what`` was expected."""
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except DAMAGED_WEIGHTS_ERRORS as error:
        raise Sg2evalError(
            f"{path} is not a readable {what} (torch: {_first_line(error)}); pass the official file"
        ) from error


def load_torchscript_file(path: str | os.PathLike[str], device: object) -> object:
    """``torch.jit.load`` of a TorchScript archive; a damaged or crafted archive raises one line."""
    import torch

    with warnings.catch_warnings():  # the official detectors exist only as TorchScript; no other way to load
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.load` is deprecated", category=FutureWarning)
        try:
            return torch.jit.load(str(path), map_location=device)
        except DAMAGED_WEIGHTS_ERRORS as error:
            raise Sg2evalError(
                f"{path} is not a loadable TorchScript archive (torch: {_first_line(error)}); "
                "save the detector with torch.jit.save"
            ) from error


def sniff_format(path: str | os.PathLike[str]) -> str:
    """``'torchscript'``, ``'torch-zip'`` (a ``torch.save`` archive), ``'pickle'`` or ``'unknown'``, from
    the bytes: TorchScript archives hold ``constants.pkl`` and a ``code/`` folder; ``torch.save`` archives
    hold ``data.pkl`` without code; older ``torch.save`` files and TF pickles start with a pickle opcode."""
    file = Path(path)
    if zipfile.is_zipfile(file):
        try:
            with zipfile.ZipFile(file) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError, ValueError) as error:
            raise Sg2evalError(f"{file} is a damaged zip archive ({_first_line(error)})") from error
        if any(n.endswith("constants.pkl") or "/code/" in n for n in names):
            return "torchscript"
        if any(n.endswith("data.pkl") for n in names):
            return "torch-zip"
        return "unknown"
    with open(file, "rb") as handle:
        head = handle.read(2)
    return "pickle" if head[:1] == b"\x80" else "unknown"
