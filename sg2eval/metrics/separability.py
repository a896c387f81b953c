"""Linear separability of a generator's latent space (StyleGAN journal paper, Sec. 4.2).

Steps, as in the official code (docs/facts.md, "Linear separability"):

1. generate ``num`` images (default 200 000) from ``z ~ N(0, I)`` with random noise, keeping the latent of
   each — ``z`` or the last ``w`` (``ws[:, -1]``) — and the logits of every attribute classifier;
   images larger than the classifiers' input are box-downsampled; they enter the classifier in [-1, 1];
2. per attribute, logit ``l`` -> probabilities ``softmax([l, -l])``, label ``argmax``; keep the ``num_keep``
   (default ``num // 2``) samples with the largest ``max(p)``;
3. fit a linear SVM (scikit-learn ``LinearSVC`` with its historical defaults, pinned) from latent to label and
   predict the same samples; if the fit raises, the predictions are the labels;
4. ``H(Y|X) = max(0, H(Y) - I(X; Y))`` in bits over the 2x2 joint of (SVM side, label);
5. score ``2 ** sum_i H_i`` — the paper's ``exp(sum_i H_i)`` with H in nats.

Memory is bounded by the latents and logits ([num, D] and [num, A] float32): images are classified batch by
batch and dropped. The SVM fits run in parallel worker processes (joblib's loky backend; the latents are
shared with them through one memory-mapped copy), one attribute per task. Processes rather than threads:
liblinear draws its coordinate order from one process-global random generator, so fits running in threads
of one process would disturb each other's sequences and the result would depend on the scheduling.

Independence of the batch size and of the number of processes: ``z`` of sample ``i`` is drawn from its own
generator ``np.random.default_rng([seed, 0, i])``, and when the generator exposes
``synthesis.noise_shapes()`` its random noise from ``default_rng([seed, 1, i])`` (passed as
``noise_inputs``), so a process of a distributed run generates its own samples (:mod:`sg2eval.distributed`)
and the result equals the one-process run's.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sg2eval.errors import Sg2evalError
from sg2eval.network import open_network
from sg2eval.result import Result, Stopwatch, provenance
from sg2model.core.checks import require_finite

if TYPE_CHECKING:  # torch is imported where images are made, so SVM worker processes stay light
    import torch

SPACES = ("w", "z")


@dataclass(frozen=True)
class SvmSettings:
    """``sklearn.svm.LinearSVC`` arguments; the defaults are the ones the official code ran with.

    scikit-learn >= 1.5 changed ``dual``'s default to ``'auto'``, so every value is passed explicitly.
    ``random_state`` (None in the official code) is derived from the metric's seed for reproducibility.
    """

    C: float = 1.0
    loss: str = "squared_hinge"
    penalty: str = "l2"
    tol: float = 1e-4
    max_iter: int = 1000
    dual: bool = True


@dataclass(frozen=True)
class AttributeEntropy:
    """One attribute's outcome: ``H(Y|X)`` in bits and how the SVM fared on the kept samples."""

    attribute: str
    entropy_bits: float
    svm_accuracy: float  # share of kept samples on the side of the plane that matches their label
    num_kept: int
    label_balance: float  # share of kept samples with label 1
    converged: bool
    svm_failed: bool  # the fit raised, so predictions = labels (as the official code does)


def labels_and_confidence(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels ``argmax(softmax([l, -l]))`` (1 where ``l < 0``) and confidences ``max(p)`` for logits [N]."""
    logits = np.asarray(logits, dtype=np.float64)
    labels = (logits < 0).astype(np.int64)  # argmax picks index 0 on the tie l == 0
    confidence = 1.0 / (1.0 + np.exp(-2.0 * np.abs(logits)))  # max(softmax([l, -l])) = sigmoid(2|l|)
    return labels, confidence


def keep_most_confident(confidence: np.ndarray, num_keep: int) -> np.ndarray:
    """Indices of the ``num_keep`` most confident samples (ties: lower index first), in index order."""
    if not 0 < num_keep <= len(confidence):
        raise Sg2evalError(f"num_keep must be in 1..{len(confidence)}, got {num_keep}")
    order = np.argsort(-np.asarray(confidence), kind="stable")[:num_keep]
    return np.sort(order)


def conditional_entropy_bits(predicted: np.ndarray, labels: np.ndarray) -> float:
    """``H(Y|X) = max(0, H(Y) - I(X; Y))`` in bits from the 2x2 joint of binary ``X`` (predicted), ``Y``."""
    predicted = np.asarray(predicted, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    if predicted.shape != labels.shape or predicted.ndim != 1 or len(labels) == 0:
        raise Sg2evalError(
            f"need two equal-length 1-D label arrays, got {predicted.shape} and {labels.shape}"
        )
    joint = np.bincount(2 * predicted + labels, minlength=4).reshape(2, 2) / len(labels)  # [x, y]
    p_x, p_y = joint.sum(axis=1), joint.sum(axis=0)
    nz_y = p_y > 0
    h_y = -float(np.sum(p_y[nz_y] * np.log2(p_y[nz_y])))
    nz = joint > 0
    mutual = float(np.sum(joint[nz] * np.log2(joint[nz] / np.outer(p_x, p_y)[nz])))
    return max(0.0, h_y - mutual)


def fit_linear_svm(
    latents: np.ndarray, labels: np.ndarray, settings: SvmSettings, seed: int
) -> tuple[np.ndarray, bool, bool]:
    """Fit ``LinearSVC`` on ``latents [N, D]`` -> ``labels [N]``; return (predictions, converged, failed)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    svm = LinearSVC(**asdict(settings), random_state=seed)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            svm.fit(latents, labels)
        predictions = svm.predict(latents).astype(np.int64)
    except Exception:  # the official code falls back to the labels whatever the fit raised
        return np.asarray(labels, dtype=np.int64), True, True
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return predictions, converged, False


def attribute_entropy(
    name: str, latents: np.ndarray, logits: np.ndarray, num_keep: int, settings: SvmSettings, seed: int
) -> AttributeEntropy:
    """Steps 2–4 for one attribute: ``latents [N, D]`` (any float dtype), ``logits [N]``."""
    labels, confidence = labels_and_confidence(logits)
    kept = keep_most_confident(confidence, num_keep)
    x = np.ascontiguousarray(latents[kept], dtype=np.float64)  # [K, D]; liblinear works in float64
    y = labels[kept]
    predictions, converged, failed = fit_linear_svm(x, y, settings, seed)
    return AttributeEntropy(
        attribute=name,
        entropy_bits=conditional_entropy_bits(predictions, y),
        svm_accuracy=float(np.mean(predictions == y)),
        num_kept=int(len(kept)),
        label_balance=float(np.mean(y)),
        converged=converged,
        svm_failed=failed,
    )


def svm_worker_bytes(num_keep: int, dim: int) -> int:
    """Memory one SVM fit needs beyond the shared latents: the float64 copy of the kept rows (8 bytes per
    value) plus liblinear's own (index, value) node per value and bias (16 bytes): ~1.2 GB at 100 000 x 512
    (measured worker peak 1.74 GB including the mapped latents, benchmarks/bench_separability.py)."""
    return num_keep * (dim + 1) * 24


def default_workers(num_tasks: int, bytes_per_worker: int = 0) -> int:
    """Worker processes for the SVM fits: the CPUs this process may use, at most one per attribute, and no
    more than half the available memory holds (``bytes_per_worker`` each)."""
    workers = min(num_tasks, len(os.sched_getaffinity(0)))
    if bytes_per_worker > 0:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        workers = min(workers, available // 2 // bytes_per_worker)
    return max(1, int(workers))


def entropies_from_arrays(
    latents: np.ndarray,
    logits: np.ndarray,
    names: Sequence[str],
    num_keep: int | None = None,
    settings: SvmSettings = SvmSettings(),
    seed: int = 0,
    workers: int | None = None,
) -> pd.DataFrame:
    """Per-attribute ``H(Y|X)`` for ``latents [N, D]`` and ``logits [N, A]``: a table indexed by attribute."""
    if latents.ndim != 2 or logits.ndim != 2 or latents.shape[0] != logits.shape[0]:
        raise Sg2evalError(f"need latents [N, D] and logits [N, A], got {latents.shape} and {logits.shape}")
    if logits.shape[1] != len(names):
        raise Sg2evalError(f"{logits.shape[1]} logit columns but {len(names)} attribute names")
    from sg2eval.distributed import collect, shard_range

    keep = latents.shape[0] // 2 if num_keep is None else num_keep
    mine = shard_range(len(names))  # a distributed run's processes fit disjoint attributes
    if workers is None:
        workers = default_workers(max(len(mine), 1), svm_worker_bytes(keep, latents.shape[1]))
    args = [(names[i], latents, logits[:, i], keep, settings, seed + i) for i in mine]

    def fit() -> list[AttributeEntropy]:
        if workers <= 1 or len(args) <= 1:
            return [attribute_entropy(*a) for a in args]
        from joblib import Parallel, delayed

        return list(Parallel(n_jobs=workers, backend="loky")(delayed(attribute_entropy)(*a) for a in args))

    outcomes = [outcome for part in collect(fit) for outcome in part]  # attribute order
    table = pd.DataFrame([asdict(o) for o in outcomes]).set_index("attribute")
    table.insert(1, "entropy_nats", table["entropy_bits"] * np.log(2.0))
    return table


def score_from_entropies(entropy_bits: Sequence[float] | np.ndarray) -> float:
    """Separability score ``2 ** sum(H bits)`` (= ``exp(sum(H nats))``)."""
    return float(2.0 ** np.sum(np.asarray(entropy_bits, dtype=np.float64)))


@dataclass(frozen=True)
class Samples:
    """What the generation pass keeps: latents per space and the classifier logits."""

    latents: dict[str, np.ndarray]  # space -> [N, D] float32
    logits: np.ndarray  # [N, A] float32


_LATENT_STREAM, _NOISE_STREAM = 0, 1


def per_sample_normals(seed: int, stream: int, items: range, size: int) -> np.ndarray:
    """float32 ``[len(items), size]`` standard normals, row ``i`` from ``default_rng([seed, stream, i])``."""
    rows = [np.random.default_rng([seed, stream, i]).standard_normal(size, dtype=np.float32) for i in items]
    return np.stack(rows) if rows else np.zeros((0, size), np.float32)


def _per_sample_noise(
    synthesis: Any, seed: int, items: range, device: torch.device
) -> dict[str, torch.Tensor]:
    """Noise maps ``{layer: [n, 1, h, w]}``, sample ``i``'s drawn by :func:`per_sample_normals`."""
    import torch

    shapes: dict[str, tuple[int, int]] = dict(synthesis.noise_shapes())
    sizes = [h * w for h, w in shapes.values()]
    flat = per_sample_normals(seed, _NOISE_STREAM, items, sum(sizes))  # [n, sum(h*w)]
    noise, offset = {}, 0
    for (layer, (h, w)), size in zip(shapes.items(), sizes, strict=True):
        noise[layer] = torch.from_numpy(flat[:, offset : offset + size].reshape(len(items), 1, h, w)).to(
            device
        )
        offset += size
    return noise


def generate_and_classify(
    G: Any,
    classifiers: Callable[[torch.Tensor], torch.Tensor],
    num: int,
    spaces: Sequence[str],
    batch_size: int = 16,
    seed: int = 0,
    truncation_psi: float = 1.0,
    noise_mode: str = "random",
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> Samples:
    """Step 1: stream ``num`` samples through ``G`` and the classifiers, keeping latents and logits only;
    each process of a distributed run takes its share of the samples (:func:`sg2eval.distributed.shard_range`)
    and every process gets all of them, in sample order."""
    import torch

    from sg2eval.distributed import current_world, gather_rows, shard_range
    from sg2eval.metrics.states import ItemRows
    from sg2eval.progress import job_progress

    if getattr(G, "c_dim", 0):
        raise Sg2evalError("separability needs an unconditional generator (c_dim == 0), as in the paper")
    device = torch.device(device)
    seeded_noise = noise_mode == "random" and hasattr(G.synthesis, "noise_shapes")
    world = current_world()

    def share() -> ItemRows:
        rows, mine = ItemRows(), shard_range(num)
        enabled = progress and world.is_main
        with torch.no_grad(), job_progress(num, "separability: generate + classify", enabled) as advance:
            for start in range(mine.start, mine.stop, batch_size):
                items = range(start, min(start + batch_size, mine.stop))
                z_rows = per_sample_normals(seed, _LATENT_STREAM, items, int(G.z_dim))
                z = torch.from_numpy(z_rows).to(device)  # [n, Z]
                ws = G.mapping(z, torch.zeros((len(items), 0), device=device), truncation_psi=truncation_psi)
                synth_kwargs: dict[str, Any] = {"noise_mode": "random" if seeded_noise else noise_mode}
                if seeded_noise:
                    synth_kwargs["noise_inputs"] = _per_sample_noise(G.synthesis, seed, items, device)
                images = G.synthesis(ws, **synth_kwargs)  # [n, C, H, W] in about [-1, 1]
                require_finite(
                    images,
                    f"the generator's images of samples {items.start}..{items.stop - 1}",
                    "the network is broken (NaN or Inf weights?); check the file",
                )
                found = {f"latent_{space}": (z if space == "z" else ws[:, -1]).float().cpu().numpy()
                         for space in spaces}  # fmt: skip
                rows.update(start, logits=classifiers(images.float()).float().cpu().numpy(), **found)
                advance(len(items) * world.size)
        return rows

    arrays = gather_rows(share).arrays(num)
    return Samples(latents={space: arrays[f"latent_{space}"] for space in spaces}, logits=arrays["logits"])


def separability(
    network: Any,
    classifiers: Any,
    *,
    num: int = 200_000,
    space: str = "w",
    num_keep: int | None = None,
    batch_size: int = 16,
    seed: int = 0,
    truncation_psi: float = 1.0,
    noise_mode: str = "random",
    device: str | torch.device | None = None,
    workers: int | None = None,
    svm: SvmSettings = SvmSettings(),
    progress: bool = False,
) -> Result:
    """Linear separability of a network's ``space`` ('w', 'z' or 'both') against a classifier set.

    ``network`` is anything :func:`sg2eval.network.open_network` takes (a network file, a generator module,
    a handle); ``device`` None means the module's own device, or 'auto' for a file.

    ``classifiers`` is a :class:`~sg2eval.classifiers.ClassifierSet`, a folder path to load one from, or any
    callable ``images [N, C, H, W] in [-1, 1] -> logits [N, A]`` with a ``names`` attribute.
    Values: ``separability`` (or ``separability_w`` and ``separability_z`` for 'both');
    ``per_item['entropies']``: a table of H(Y|X) per attribute (and space).
    """
    from sg2eval.classifiers.classifier_set import load_classifier_set

    spaces = list(SPACES) if space == "both" else [space]
    if any(s not in SPACES for s in spaces):
        raise Sg2evalError(f"space must be 'w', 'z' or 'both', got {space!r}")
    if num < 2 or batch_size < 1:
        raise Sg2evalError(f"need num >= 2 and batch_size >= 1, got {num} and {batch_size}")
    keep = num // 2 if num_keep is None else num_keep
    clock = Stopwatch()
    handle = open_network(network, device)
    classifier_set = load_classifier_set(classifiers, device=handle.device)
    names = list(classifier_set.names)
    samples = generate_and_classify(
        handle.generator,
        classifier_set,
        num,
        spaces,
        batch_size,
        seed,
        truncation_psi,
        noise_mode,
        handle.device,
        progress,
    )
    if workers is None:
        dim = max(latents.shape[1] for latents in samples.latents.values())
        workers = default_workers(len(names), svm_worker_bytes(keep, dim))
    tables = {}
    for s in spaces:
        tables[s] = entropies_from_arrays(samples.latents[s], samples.logits, names, keep, svm, seed, workers)
    if len(spaces) == 1:
        values = {"separability": score_from_entropies(tables[space]["entropy_bits"])}
        entropies = tables[space]
    else:
        values = {f"separability_{s}": score_from_entropies(tables[s]["entropy_bits"]) for s in spaces}
        entropies = pd.concat(tables, names=["space"])
    import sklearn

    params = {
        "num": num,
        "num_keep": keep,
        "space": space,
        "seed": seed,
        "truncation_psi": truncation_psi,
        "noise_mode": noise_mode,
        "batch_size": batch_size,
        "svm": asdict(svm),
        "attributes": names,
    }
    made = provenance(
        clock,
        handle.device,
        network=handle.describe(),
        classifiers=classifier_set.describe(),
        details={"generator": _describe_generator(handle.generator), "workers": workers},
        versions={"scikit-learn": sklearn.__version__},
    )
    return Result("separability", values, params, made, {"entropies": entropies})


def _describe_generator(G: Any) -> dict[str, Any]:
    """The generator's shape attributes (and its config when it has one) for provenance."""
    info = {
        k: getattr(G, k)
        for k in ("z_dim", "w_dim", "num_ws", "img_resolution", "img_channels")
        if hasattr(G, k)
    }
    config = getattr(G, "config", None)
    if config is not None:
        info["config"] = asdict(config) if hasattr(config, "__dataclass_fields__") else repr(config)
    return info
