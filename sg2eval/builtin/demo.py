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
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from sg2eval.errors import Sg2evalError

if TYPE_CHECKING:
    from sg2eval.attribution import Calibration, ProjectedSets
    from sg2eval.network import NetworkHandle
from sg2eval.result import Result, runtime_versions
from sg2model.core.files import atomic_open, temporary_folder_beside, write_json

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
    projections: ProjectedSets  # k generated and k real images and their projections
    calibration: Calibration  # the threshold chosen on those distances (Section 5.1)


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


def _attribution(network: NetworkHandle, sets: ProjectedSets, lpips: dict[str, Any]) -> Calibration:
    """Section 5.1 on the demo's projections: the threshold that best separates the two distance samples
    and its error rates on them (an in-sample :class:`~sg2eval.attribution.Calibration`)."""
    from sg2eval.attribution import Calibration

    return Calibration.from_distances(
        sets.generated.distance,
        sets.real.distance,
        network_sha256=network.sha256,
        network_path=network.label,
        lpips=lpips,
        projector={},
        real_source=sets.real_source,
        generation=sets.generated_source,
    )


def attribution_values(calibration: Calibration) -> dict[str, float]:
    """The demo table's attribution columns of a calibration."""
    return {
        "threshold": calibration.threshold,
        "false_positive_rate": calibration.false_positive_rate,
        "false_negative_rate": calibration.false_negative_rate,
        "median_distance_generated": float(np.median(calibration.generated)),
        "median_distance_real": float(np.median(calibration.real)),
    }


def evaluate_network(
    name: str, network: Path, kimg: float | None, real: np.ndarray, real_sets: dict[str, Any],
    choice: DetectorChoice, settings: DemoSettings, stages: Stages, device: str,
) -> NetworkRun:
    """Every metric of the demo on one network file."""
    from sg2eval.attribution import Setup, project_generated_and_real
    from sg2eval.builtin.paths import CLASSIFIERS_DIR, asset
    from sg2eval.metrics.ppl import describe_distance, ppl
    from sg2eval.metrics.separability import separability
    from sg2eval.network import open_network
    from sg2eval.projector import ProjectorConfig
    from sg2eval.sources import NetworkSource

    handle = open_network(network, device)
    results = stages.run(f"{name}: FD, KID, P&R",
                         lambda: _distribution_metrics(real_sets, network, choice, settings, device))
    results["ppl"] = stages.run(f"{name}: PPL", lambda: ppl(
        handle, "ppl2_wend", num=settings.ppl_samples, lpips=choice.distance, seed=settings.seed,
        batch_size=32))
    results["separability"] = stages.run(f"{name}: separability", lambda: separability(
        handle, asset(CLASSIFIERS_DIR), num=settings.separability_num, space="w",
        batch_size=settings.batch_size, seed=settings.seed))
    lpips = describe_distance(choice.distance)
    setup = Setup(handle, choice.distance.distance, lpips)
    config = ProjectorConfig(num_steps=settings.project_steps, w_avg_samples=settings.w_avg_samples)
    k = settings.num_project
    sets = stages.run(f"{name}: projection", lambda: project_generated_and_real(
        setup, real, k, config, first=settings.seed, batch_size=2 * k))
    calibration = _attribution(handle, sets, lpips)
    samples = NetworkSource(handle, seed=settings.seed).read_range(0, 16)
    return NetworkRun(name, network, kimg, results, samples, sets, calibration)


def results_table(runs: list[NetworkRun], labels: dict[str, str]) -> pd.DataFrame:
    """One row per network with the headline numbers, columns named with the detectors' labels."""
    rows = []
    for run in runs:
        r = run.results
        attribution = attribution_values(run.calibration)
        rows.append({
            "network": run.name,
            "kimg": run.kimg,
            labels["fd"]: r["fd"].values["fid"],
            labels["kid"]: r["kid"].values["kid"] * 1e3,
            labels["precision"]: r["pr"].values["precision"],
            labels["recall"]: r["pr"].values["recall"],
            labels["ppl"]: r["ppl"].values["ppl"],
            "separability W (2^sum H, bits)": r["separability"].values["separability"],
            "proj. dist. generated (median)": attribution["median_distance_generated"],
            "proj. dist. real (median)": attribution["median_distance_real"],
            "attribution FPR": attribution["false_positive_rate"],
            "attribution FNR": attribution["false_negative_rate"],
        })
    return pd.DataFrame(rows)


def to_markdown(table: pd.DataFrame) -> str:
    """The results table as GitHub-flavoured Markdown, numbers to 4 significant digits."""
    from sg2reports.outputs import to_markdown as markdown_table

    return markdown_table(table.map(lambda v: f"{v:.4g}" if isinstance(v, (float, np.floating)) else str(v)))


def _write_figures(folder: Path, real: np.ndarray, runs: list[NetworkRun], labels: dict[str, str]) -> None:
    from sg2eval.figure10 import figure10_frame, save_figure10
    from sg2eval.plots import save_histogram
    from sg2model.core.images import save_image_grid

    save_image_grid(np.concatenate([real[:16], *(run.samples for run in runs)]), folder / "samples.png", 16)
    for run in runs:
        ppl = run.results["ppl"]
        save_histogram(ppl.per_item["distance"], folder / f"ppl_hist_{run.name}.png",
                       title=f"PPL per pair, {run.name} ({labels['distance']})", xlabel="d / eps^2")
        sets = run.projections
        targets = np.concatenate([sets.generated_targets, sets.real_targets])
        projected = np.concatenate([sets.generated.images, sets.real.images])
        save_image_grid(np.concatenate([targets, projected]), folder / f"projections_{run.name}.png",
                        len(targets))
    frame = figure10_frame({f"projection distances, {run.name}": run.calibration for run in runs})
    save_figure10(frame, folder / "attribution_hist.png", xlabel=labels["distance"])


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
                                "results": {k: brief(v) for k, v in run.results.items()},
                                "attribution": {**attribution_values(run.calibration),
                                                "distances": {"generated": list(run.calibration.generated),
                                                              "real": list(run.calibration.real)}}}
                     for run in runs},
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
    tmp = temporary_folder_beside(target)  # the umask's mode, not mkdtemp's 0700
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
