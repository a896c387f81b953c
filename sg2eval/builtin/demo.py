"""``sg2eval demo``: evaluate the two shipped networks with every metric and attribute images to them.

The pipeline (docs/demo.md), all offline:

1. real images: the built-in shapes data (``sg2datasets.shapes``, seed 0, the networks' training images);
2. for the early and the final snapshot of the shipped run (``sg2eval.builtin.paths``):
   Fréchet distance, KID and precision/recall on detector features, PPL (W, end points; StyleGAN2 Table 1),
   linear separability in W against the shipped attribute classifiers (bits, StyleGAN journal Sec. 4.2),
   and the projection of a handful of generated and real images (StyleGAN2 Sec. 5, Appendix D) whose
   distances decide an attribution threshold (Section 5.1, :mod:`sg2eval.attribution`), with the share of
   bootstrap resamples in which the generated images project closer (how firm that verdict is);
3. in the full demo (the quick one on request): the small built-in versions of the paper's reports
   (:mod:`sg2eval.builtin.reports`): Tables 1-4 over ``report_seeds`` seeds with mean, standard deviation and
   confidence interval, and Figure 10's histograms, on the same two networks, in ``reports/``;
4. a report folder: ``results.csv`` / ``results.md`` (one row per network), ``report.json`` (every result
   with provenance and the shipped files' hashes), ``entropies.csv``, PNGs (samples, PPL histograms,
   projections, attribution histogram) and ``reports/`` when made. The folder is written under a temporary
   name and renamed.

Detectors: by default the in-domain ones (``shapes-features``, ``shapes-lpips``; results labelled "in-domain
FD (shapes-features, 500 real vs 500 generated)" etc. by :mod:`sg2eval.labels`, never FID/LPIPS, and KID
unscaled); with ``official=True`` Inception-v3 / VGG16 / LPIPS as found by the weight finder (already present
files only; a clear error names what is missing), KID x1e3 as in the paper. ``results.md`` ends with notes
on what the numbers are (the KID scale, when a separability near 1 means nothing).
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


QUICK = DemoSettings("quick", 500, 500, 250, 100, 500, 8, 100, 2000, 2, 500)
FULL = DemoSettings("full", 5000, 5000, 1000, 1000, 4000, 16, 100, 10_000, 3, 2000)


@dataclass(frozen=True)
class DetectorChoice:
    """Which detectors the demo uses (its table names their results with :mod:`sg2eval.labels`)."""

    fd_detector: str  # FD and KID
    pr_detector: str  # precision and recall
    distance: Any  # PerceptualDistance for PPL and the projector
    kid_scale: float  # 1e3 for Inception features (the paper's KID x1e3); 1 for in-domain ones


def in_domain_choice(device: torch.device) -> DetectorChoice:
    """The shipped in-domain detectors (:mod:`sg2eval.builtin.indomain`)."""
    from sg2eval.builtin.indomain import FEATURES_NAME, in_domain_distance

    return DetectorChoice(FEATURES_NAME, FEATURES_NAME, in_domain_distance(device=device), kid_scale=1.0)


def official_choice(device: torch.device) -> DetectorChoice:
    """Inception-v3 (FID/KID), VGG16 (P&R) and LPIPS, from files already present (no download)."""
    from sg2eval.detectors.lpips import get_lpips
    from sg2eval.weights import locate

    missing = [kind for kinds in (("inception-nv", "inception-pth"), ("vgg16-nv",))
               if all(locate(k) is None for k in kinds) for kind in kinds[:1]]
    if missing:
        raise Sg2evalError(
            f"--official needs the official weights, missing: {', '.join(missing)}; fetch them with "
            "'sg2eval weights fetch' (see docs/weights.md) or run the demo without --official"
        )
    return DetectorChoice("inception-v3-tf", "vgg16-nv", get_lpips("auto", device=device), kid_scale=1e3)


class Stages:
    """Progress of the demo: one bar over the stages (plain lines off a terminal), the current stage as its
    status; each stage's own jobs show below it (sg2eval/progress.py)."""

    def __init__(self, total: int, enabled: bool) -> None:
        from sg2eval.progress import progress_bar

        self.display = progress_bar(total, "sg2eval demo", enabled, "stages")
        self.times: dict[str, float] = {}

    def __enter__(self) -> Stages:
        self.bar = self.display.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.display.__exit__(*exc)

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        self.bar.advance(0, name)
        start = time.perf_counter()
        out = fn()
        self.times[name] = time.perf_counter() - start
        self.bar.advance(1)
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
        "generated_closer_share": calibration.stability().closer_share,
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


def results_table(runs: list[NetworkRun], kid_scale: float) -> pd.DataFrame:
    """One row per network with the headline numbers, each column named for what it is
    (:func:`sg2eval.labels.value_label`: detector or distance, counts); KID times ``kid_scale``."""
    from sg2eval.labels import value_label

    rows = []
    for run in runs:
        r = run.results
        attribution = attribution_values(run.calibration)
        distance = _distance_label(run)
        k = len(run.calibration.generated)
        rows.append({
            "network": run.name,
            "kimg": run.kimg,
            value_label(r["fd"], "fid"): r["fd"].values["fid"],
            value_label(r["kid"], "kid", kid_scale): r["kid"].values["kid"] * kid_scale,
            value_label(r["pr"], "precision"): r["pr"].values["precision"],
            value_label(r["pr"], "recall"): r["pr"].values["recall"],
            value_label(r["ppl"], "ppl"): r["ppl"].values["ppl"],
            value_label(r["separability"], "separability"): r["separability"].values["separability"],
            f"median {distance} to the projection, {k} generated": attribution["median_distance_generated"],
            f"median {distance} to the projection, {k} real": attribution["median_distance_real"],
            "attribution FPR": attribution["false_positive_rate"],
            "attribution FNR": attribution["false_negative_rate"],
            "generated closer (share of resamples)": attribution["generated_closer_share"],
        })
    return pd.DataFrame(rows)


def _distance_label(run: NetworkRun) -> str:
    """The name of the demo's perceptual distance (``in-domain distance (shapes-lpips)``, ``LPIPS (...)``)."""
    from sg2eval.labels import distance_name

    return distance_name(run.calibration.lpips)


def table_notes(runs: list[NetworkRun], kid_scale: float) -> list[str]:
    """What ``results.md`` says below the table: the KID scale and, per network, why its separability
    may say nothing (:func:`sg2eval.labels.separability_note`)."""
    from sg2eval.labels import separability_note

    notes = []
    if kid_scale == 1:
        notes.append("KID is shown unscaled: the in-domain features are not Inception-v3's and their scale "
                     "differs, so the paper's x1e3 would give numbers like 3.5e7 that compare with nothing.")
    for run in runs:
        note = separability_note(run.results["separability"])
        if note:
            notes.append(f"Separability of the {run.name} network: {note}")
    return notes


def to_markdown(table: pd.DataFrame) -> str:
    """The results table as GitHub-flavoured Markdown, numbers to 4 significant digits."""
    from sg2reports.outputs import to_markdown as markdown_table

    return markdown_table(table.map(lambda v: f"{v:.4g}" if isinstance(v, (float, np.floating)) else str(v)))


def _write_figures(folder: Path, real: np.ndarray, runs: list[NetworkRun]) -> None:
    """samples.png (a row per source, each image captioned), a PPL histogram and a projection grid per
    network, and the attribution histogram; small images enlarged to 128 px (nearest neighbour)."""
    from sg2eval.figure10 import figure10_frame, save_figure10
    from sg2eval.plots import save_histogram
    from sg2model.core.images import GridLabels, save_image_grid

    shown = real[:16]
    rows = [f"real images\n(shapes data,\nimages 0-{len(shown) - 1})"]
    rows += [f"{run.name} network\n(seeds 0-{len(run.samples) - 1})" for run in runs]
    captions = [f"image {i}" for i in range(len(shown))] + [f"seed {i}" for run in runs
                                                             for i in range(len(run.samples))]
    save_image_grid(np.concatenate([shown, *(run.samples for run in runs)]), folder / "samples.png", 16,
                    labels=GridLabels(captions, rows, "Real images and samples of the shipped networks"))
    for run in runs:
        ppl = run.results["ppl"]
        distances = np.asarray(ppl.per_item["distance"])
        save_histogram(distances, folder / f"ppl_hist_{run.name}.png", label="pairs",
                       title=f"per-pair PPL, {run.name} network: PPL {ppl.value:.4g} over the kept pairs",
                       xlabel=f"d / eps^2 ({_distance_label(run)})", log_x=bool(distances.min() > 0))
        sets = run.projections
        targets = np.concatenate([sets.generated_targets, sets.real_targets])
        projected = np.concatenate([sets.generated.images, sets.real.images])
        k = len(sets.generated_targets)
        captions = [f"generated, seed {sets.first + i}" for i in range(k)]
        captions += [f"real, image {sets.first + i}" for i in range(k)]
        distances = np.concatenate([sets.generated.distance, sets.real.distance])
        captions += [f"distance {d:.4g}" for d in distances]
        labels = GridLabels(captions, ["target", "projection"],
                            f"Projections, {run.name} network ({_distance_label(run)})")
        save_image_grid(np.concatenate([targets, projected]), folder / f"projections_{run.name}.png",
                        len(targets), labels=labels)
    frame = figure10_frame({f"projection distances, {run.name}": run.calibration for run in runs})
    save_figure10(frame, folder / "attribution_hist.png", xlabel=_distance_label(runs[0]))


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
                                                "stability": run.calibration.stability().to_dict(),
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
    reports: bool | None = None,
) -> DemoReport:
    """Run the demo and write its report folder ``out`` (replacing an earlier demo report there);
    ``reports`` adds the built-in Tables 1-4 and Figure 10 (default: in the full demo, not in the quick
    one, where they would take most of the time)."""
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
    with_reports = not quick if reports is None else reports
    total = 1 + 4 * len(networks) + 1 + with_reports
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
            done = stages.run("reports: Tables 1-4, Figure 10", lambda: _builtin_reports(
                tmp / REPORTS_DIR, real, attributes, settings, device)) if with_reports else {}
            table = results_table(runs, choice.kid_scale)
            stages.run("report", lambda: _write_report(tmp, real, runs, table, choice, settings, official,
                                                       stages.times, done))
        _replace_folder(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return DemoReport(table, target, time.perf_counter() - start, tuple(runs), done)


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
        notes = table_notes(runs, choice.kid_scale)
        handle.write("".join(["\nNotes:\n\n", *(f"- {note}\n" for note in notes)]) if notes else "")
    entropies = pd.concat({run.name: run.results["separability"].per_item["entropies"] for run in runs},
                          names=["network"])
    entropies.to_csv(folder / "entropies.csv")
    _write_figures(folder, real, runs)
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
