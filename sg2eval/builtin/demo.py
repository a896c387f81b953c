"""``sg2eval demo``: evaluate the two shipped networks with every metric and attribute images to them.

The pipeline (docs/demo.md), all offline:

1. real images: the built-in shapes data (``sg2datasets.shapes``, seed 0, the networks' training images);
2. for the early and the final snapshot of the shipped run (``sg2eval.builtin.paths``):
   Fréchet distance, KID and precision/recall on detector features, PPL (W, end points; StyleGAN2 Table 1),
   linear separability in W against the shipped attribute classifiers (bits, StyleGAN journal Sec. 4.2),
   and the projection of a handful of generated and real images (StyleGAN2 Sec. 5, Appendix D) whose
   distances decide an attribution threshold (Section 5.1, :mod:`sg2eval.attribution`);
3. the small built-in versions of the paper's reports (:mod:`sg2eval.builtin.reports`): Tables 1-4 over
   ``report_seeds`` seeds with mean, standard deviation and confidence interval, and Figure 10's histograms,
   on the same two networks, in ``reports/``;
4. a report folder: ``results.csv`` / ``results.md`` (one row per network), ``report.json`` (every result
   with provenance and the shipped files' hashes), ``entropies.csv``, PNGs (samples, PPL histograms,
   projections, attribution histogram) and ``reports/``. The folder is written under a temporary name and
   renamed.

Detectors: by default the in-domain ones (``shapes-features``, ``shapes-lpips``; results labelled "in-domain
FD" etc., never FID/LPIPS); with ``official=True`` Inception-v3 / VGG16 / LPIPS as found by the weight finder
(already present files only; a clear error names what is missing).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from sg2eval.errors import Sg2evalError
from sg2eval.result import Result, runtime_versions
from sg2model.core.files import atomic_open, write_json

REPORT_JSON = "report.json"
REPORT_FORMAT = "sg2eval-demo-report-v1"
REPORTS_DIR = "reports"  # the built-in Tables 1-4 and Figure 10, inside the report folder


@dataclass(frozen=True)
class DemoSettings:
    """Sample sizes of one demo mode (``quick`` for tests, ``full`` within 10 minutes on 2 CPU cores)."""

    mode: str
    num_real: int  # real images for FD/KID/P&R
    num_fake: int  # generated images per network for FD/KID/P&R
    kid_subset: int
    ppl_samples: int
    separability_num: int
    num_project: int  # generated and (as many) real images projected per network
    project_steps: int
    w_avg_samples: int
    report_seeds: int  # seeds of the built-in Tables 1-4
    report_num: int  # generated (and real) images per FD / P&R cell of those tables
    seed: int = 0
    batch_size: int = 64


QUICK = DemoSettings("quick", 500, 500, 250, 100, 500, 3, 100, 2000, 2, 500)
FULL = DemoSettings("full", 5000, 5000, 1000, 1000, 4000, 4, 100, 10_000, 3, 2000)


@dataclass(frozen=True)
class DetectorChoice:
    """Which detectors the demo uses and how its table names their results."""

    fd_detector: str  # FD and KID
    pr_detector: str  # precision and recall
    distance: Any  # PerceptualDistance for PPL and the projector
    labels: dict[str, str]


def in_domain_choice(device: torch.device) -> DetectorChoice:
    """The shipped in-domain detectors (:mod:`sg2eval.builtin.indomain`)."""
    from sg2eval.builtin.indomain import FEATURES_NAME, in_domain_distance

    labels = {"fd": "in-domain FD", "kid": "in-domain KID x1e3", "precision": "in-domain precision",
              "recall": "in-domain recall", "ppl": "PPL W-end (in-domain dist.)",
              "distance": "in-domain perceptual distance"}
    return DetectorChoice(FEATURES_NAME, FEATURES_NAME, in_domain_distance(device=device), labels)


def official_choice(device: torch.device) -> DetectorChoice:
    """Inception-v3 (FID/KID), VGG16 (P&R) and LPIPS, from files already present (no download)."""
    from sg2eval.detectors.lpips import get_lpips
    from sg2eval.weights import locate

    missing = [kind for kinds in (("inception-nv", "inception-pth"), ("vgg16-nv",))
               if all(locate(k) is None for k in kinds) for kind in kinds[:1]]
    if missing:
        raise Sg2evalError(
            f"--official needs the official weights, missing: {', '.join(missing)}; fetch them with "
            "'sg2eval weights list' (see docs/weights.md) or run the demo without --official"
        )
    labels = {"fd": "FID", "kid": "KID x1e3", "precision": "precision (VGG16)", "recall": "recall (VGG16)",
              "ppl": "PPL W-end (LPIPS)", "distance": "LPIPS"}
    return DetectorChoice("inception-v3-tf", "vgg16-nv", get_lpips("auto", device=device), labels)


class Stages:
    """Progress of the demo: one rich bar over the stages, the current stage as its status."""

    def __init__(self, total: int, enabled: bool) -> None:
        from sg2eval.progress import make_progress

        self.progress = make_progress() if enabled else None
        self.task = None if self.progress is None else self.progress.add_task("sg2eval demo", total=total,
                                                                              status="")
        self.times: dict[str, float] = {}

    def __enter__(self) -> Stages:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, status=name)
        start = time.perf_counter()
        out = fn()
        self.times[name] = time.perf_counter() - start
        if self.progress is not None and self.task is not None:
            self.progress.advance(self.task)
        return out


@dataclass(frozen=True)
class NetworkRun:
    """Everything measured for one network."""

    name: str
    path: Path
    kimg: float | None
    results: dict[str, Result]
    samples: np.ndarray  # uint8 [n, 3, 32, 32] for the sample grid
    targets: np.ndarray  # projected images: generated then real, uint8 [2k, 3, 32, 32]
    projected: np.ndarray  # their re-syntheses
    distances: np.ndarray  # [2k]


def _features(source: Any, num: int, detector: str, settings: DemoSettings, device: str) -> Any:
    from sg2eval.api import compute_features

    return compute_features(source, num=num, detector=detector, seed=settings.seed, cache=False,
                            batch_size=settings.batch_size, device=device)


def _distribution_metrics(
    real_sets: dict[str, Any], network: Path, choice: DetectorChoice, settings: DemoSettings, device: str
) -> dict[str, Result]:
    from sg2eval.api import fid, kid, precision_recall

    fake = {name: _features(str(network), settings.num_fake, name, settings, device)
            for name in {choice.fd_detector, choice.pr_detector}}
    fd_real, fd_fake = real_sets[choice.fd_detector], fake[choice.fd_detector]
    return {
        "fd": fid(fd_real, fd_fake, device=device),
        "kid": kid(fd_real, fd_fake, subset_size=settings.kid_subset, device=device),
        "pr": precision_recall(real_sets[choice.pr_detector], fake[choice.pr_detector], device=device),
    }


def _attribution(generated: np.ndarray, real: np.ndarray) -> Result:
    """Section 5.1 on the demo's projections: the threshold that best separates the two distance samples
    (:func:`sg2eval.attribution.choose_threshold`), its error rates on them, and the verdicts."""
    from sg2eval.attribution import choose_threshold, decide, error_rates

    threshold = choose_threshold(generated, real)
    fpr, fnr = error_rates(generated, real, threshold)
    names = [f"generated-{i}" for i in range(len(generated))] + [f"real-{i}" for i in range(len(real))]
    verdicts = decide(names, np.concatenate([generated, real]), threshold)
    return Result(
        "attribution",
        {"threshold": threshold, "false_positive_rate": fpr, "false_negative_rate": fnr,
         "median_distance_generated": float(np.median(generated)),
         "median_distance_real": float(np.median(real))},
        {"num_generated": len(generated), "num_real": len(real),
         "threshold_rule": "minimizes FPR + FNR on these same samples (in-sample calibration)"},
        {},
        {"image": [v.name for v in verdicts], "distance": [v.distance for v in verdicts],
         "verdict": [v.verdict for v in verdicts]},
    )


def _project(
    G: Any, network: Path, real: np.ndarray, choice: DetectorChoice, settings: DemoSettings, device: str
) -> tuple[np.ndarray, Any]:
    from sg2eval.projector import Projector, ProjectorConfig
    from sg2eval.sources.network import NetworkSource

    k = settings.num_project
    gen_source = NetworkSource(network, seed=settings.seed + 1_000_000, device=device)  # unseen seeds
    generated = next(gen_source.iter_batches(k, k))
    targets = np.concatenate([generated, real[-k:]])  # [2k, 3, 32, 32]
    config = ProjectorConfig(num_steps=settings.project_steps, w_avg_samples=settings.w_avg_samples)
    projector = Projector(G, choice.distance.distance, config, device)
    return targets, projector.project_many(targets, list(range(len(targets))), batch_size=2 * k)


def evaluate_network(
    name: str, network: Path, kimg: float | None, real: np.ndarray, real_sets: dict[str, Any],
    choice: DetectorChoice, settings: DemoSettings, stages: Stages, device: str,
) -> NetworkRun:
    """Every metric of the demo on one network file."""
    from sg2eval.builtin.paths import CLASSIFIERS_DIR, asset
    from sg2eval.metrics.ppl import ppl
    from sg2eval.metrics.separability import separability
    from sg2eval.sources.network import NetworkSource
    from sg2model import load_network

    G = load_network(network).generator.eval().requires_grad_(False).to(device)
    results = stages.run(f"{name}: FD, KID, P&R",
                         lambda: _distribution_metrics(real_sets, network, choice, settings, device))
    results["ppl"] = stages.run(f"{name}: PPL", lambda: ppl(
        G, "ppl2_wend", num_samples=settings.ppl_samples, lpips=choice.distance, seed=settings.seed,
        batch_size=32, device=device))
    results["separability"] = stages.run(f"{name}: separability", lambda: separability(
        G, asset(CLASSIFIERS_DIR), num=settings.separability_num, space="w", batch_size=settings.batch_size,
        seed=settings.seed, device=device))
    targets, projection = stages.run(f"{name}: projection",
                                     lambda: _project(G, network, real, choice, settings, device))
    k = settings.num_project
    results["attribution"] = _attribution(projection.distance[:k], projection.distance[k:])
    samples = next(NetworkSource(network, seed=settings.seed, device=device).iter_batches(16, 16))
    return NetworkRun(name, network, kimg, results, samples, targets, projection.images, projection.distance)


def results_table(runs: list[NetworkRun], labels: dict[str, str]) -> pd.DataFrame:
    """One row per network with the headline numbers, columns named with the detectors' labels."""
    rows = []
    for run in runs:
        r = run.results
        rows.append({
            "network": run.name,
            "kimg": run.kimg,
            labels["fd"]: r["fd"].values["fid"],
            labels["kid"]: r["kid"].values["kid"] * 1e3,
            labels["precision"]: r["pr"].values["precision"],
            labels["recall"]: r["pr"].values["recall"],
            labels["ppl"]: r["ppl"].values["ppl"],
            "separability W (2^sum H, bits)": r["separability"].values["separability"],
            "proj. dist. generated (median)": r["attribution"].values["median_distance_generated"],
            "proj. dist. real (median)": r["attribution"].values["median_distance_real"],
            "attribution FPR": r["attribution"].values["false_positive_rate"],
            "attribution FNR": r["attribution"].values["false_negative_rate"],
        })
    return pd.DataFrame(rows)


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (4 significant digits)."""
    def cell(v: Any) -> str:
        return f"{v:.4g}" if isinstance(v, (float, np.floating)) else str(v)

    lines = ["| " + " | ".join(map(str, table.columns)) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def _write_figures(folder: Path, real: np.ndarray, runs: list[NetworkRun], labels: dict[str, str]) -> None:
    from sg2eval.plots import save_histogram
    from sg2model.core.images import save_image_grid

    save_image_grid(np.concatenate([real[:16], *(run.samples for run in runs)]), folder / "samples.png", 16)
    for run in runs:
        ppl = run.results["ppl"]
        save_histogram(ppl.per_item["distance"], folder / f"ppl_hist_{run.name}.png",
                       title=f"PPL per pair, {run.name} ({labels['distance']})", xlabel="d / eps^2")
        save_image_grid(np.concatenate([run.targets, run.projected]), folder / f"projections_{run.name}.png",
                        len(run.targets))
    _attribution_histogram(folder / "attribution_hist.png", runs, labels["distance"])


def _attribution_histogram(path: Path, runs: list[NetworkRun], xlabel: str) -> None:
    """Projection distances of generated vs real images per network (StyleGAN2 Figure 10's layout)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sg2model.core.files import atomic_path

    fig, axes = plt.subplots(1, len(runs), figsize=(5 * len(runs), 3.2), dpi=110, squeeze=False)
    try:
        for ax, run in zip(axes[0], runs, strict=True):
            k = len(run.distances) // 2
            bins = np.linspace(0, float(run.distances.max()) * 1.05 + 1e-9, 20)
            ax.hist(run.distances[:k], bins=bins, alpha=0.6, label="generated")
            ax.hist(run.distances[k:], bins=bins, alpha=0.6, label="real")
            ax.axvline(run.results["attribution"].values["threshold"], color="k", ls="--", label="threshold")
            ax.set_title(f"projection distances, {run.name}")
            ax.set_xlabel(xlabel)
            ax.legend()
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)


def _provenance(settings: DemoSettings, official: bool, runs: list[NetworkRun],
                stage_times: dict[str, float], reports: dict[str, Any]) -> dict[str, Any]:
    from sg2eval.builtin.paths import ASSETS, manifest

    def brief(result: Result) -> dict[str, Any]:
        payload = result.to_dict()
        payload.pop("per_item", None)
        return payload

    return {
        "format": REPORT_FORMAT,
        "settings": asdict(settings),
        "detectors": "official" if official else "in-domain",
        "assets": {"folder": str(ASSETS), "files": manifest()},
        "networks": {run.name: {"path": str(run.path), "kimg": run.kimg,
                                "results": {k: brief(v) for k, v in run.results.items()}} for run in runs},
        "reports": {name: {"folder": REPORTS_DIR, "seeds": report.seeds, "cells_computed": report.computed,
                           "cells_reused": report.reused} for name, report in reports.items()},
        "stage_seconds": stage_times,
        "versions": runtime_versions(),
    }


@dataclass(frozen=True)
class DemoReport:
    """What :func:`run_demo` returns: the table, the report folder, the run time and the built-in reports."""

    table: pd.DataFrame
    folder: Path
    elapsed_s: float
    runs: tuple[NetworkRun, ...]
    reports: dict[str, Any]  # table name -> sg2reports.runner.Report


def run_demo(
    out: str | os.PathLike[str] = "sg2eval-demo",
    quick: bool = False,
    official: bool = False,
    progress: bool = True,
    device: str = "cpu",
    settings: DemoSettings | None = None,
) -> DemoReport:
    """Run the demo and write its report folder ``out`` (replacing an earlier demo report there)."""
    from sg2datasets.shapes import make_shapes
    from sg2eval.builtin.paths import EARLY_NETWORK, FINAL_NETWORK, asset, manifest

    start = time.perf_counter()
    settings = settings or (QUICK if quick else FULL)
    target = Path(out).expanduser().resolve()
    _check_target(target)
    dev = torch.device(device)
    choice = official_choice(dev) if official else in_domain_choice(dev)
    networks = [("early", asset(EARLY_NETWORK)), ("final", asset(FINAL_NETWORK))]
    kimgs = {name: manifest().get(path.name, {}).get("kimg") for name, path in networks}
    total = 1 + 4 * len(networks) + 2
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        with Stages(total, progress) as stages:
            real, attributes = make_shapes(settings.num_real, 32, settings.seed)  # [N, 3, 32, 32] uint8
            real_sets = stages.run("real images: features", lambda: {
                name: _features(real, settings.num_real, name, settings, device)
                for name in {choice.fd_detector, choice.pr_detector}})
            runs = [evaluate_network(name, path, _as_float(kimgs[name]), real, real_sets, choice, settings,
                                     stages, device) for name, path in networks]
            reports = stages.run("reports: Tables 1-4, Figure 10", lambda: _builtin_reports(
                tmp / REPORTS_DIR, real, attributes, settings, device))
            table = results_table(runs, choice.labels)
            stages.run("report", lambda: _write_report(tmp, real, runs, table, choice, settings, official,
                                                       stages.times, reports))
        _replace_folder(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return DemoReport(table, target, time.perf_counter() - start, tuple(runs), reports)


def _builtin_reports(folder: Path, real: np.ndarray, attributes: np.ndarray, settings: DemoSettings,
                     device: str) -> dict[str, Any]:
    """The paper's reports in small (:mod:`sg2eval.builtin.reports`), sized by the demo's settings."""
    from sg2eval.builtin.reports import BuiltinSizes, run_builtin_reports

    sizes = BuiltinSizes(settings.report_seeds, settings.report_num, settings.ppl_samples,
                         settings.num_project, settings.project_steps)
    return run_builtin_reports(real[: settings.report_num], attributes[: settings.report_num], folder, sizes,
                               device)


def _as_float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _check_target(target: Path) -> None:
    if target.exists() and not (target / REPORT_JSON).is_file():
        raise Sg2evalError(f"{target} exists and is not a demo report; remove it or choose another --out")


def _write_report(folder: Path, real: np.ndarray, runs: list[NetworkRun], table: pd.DataFrame,
                  choice: DetectorChoice, settings: DemoSettings, official: bool,
                  stage_times: dict[str, float], reports: dict[str, Any]) -> None:
    """Write the demo's own files into the (temporary) report folder."""
    table.to_csv(folder / "results.csv", index=False)
    with atomic_open(folder / "results.md") as handle:
        handle.write(to_markdown(table))
    entropies = pd.concat({run.name: run.results["separability"].per_item["entropies"] for run in runs},
                          names=["network"])
    entropies.to_csv(folder / "entropies.csv")
    _write_figures(folder, real, runs, choice.labels)
    write_json(folder / REPORT_JSON, _provenance(settings, official, runs, stage_times, reports))


def _replace_folder(new: Path, target: Path) -> None:
    """Rename ``new`` onto ``target``; an earlier report there is moved aside first, then deleted."""
    if not target.exists():
        os.replace(new, target)
        return
    _check_target(target)
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    os.replace(target, old)
    os.replace(new, target)
    shutil.rmtree(old)
