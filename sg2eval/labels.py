"""What a number is, in words: the names under which the CLI, reports, the demo and figures show values.

A value is named after what measured it, read from its result's provenance (docs/metrics.md):

- the metric: ``fid`` measured with Inception-v3 is "FID"; with any other detector it is a Fréchet distance
  "FD" on that detector's features (the paper's FID is defined on Inception-v3 pool3 features only); KID,
  precision and recall keep their names and say the detector; PPL says its distance;
- "in-domain" when the detector or distance describes itself so (its ``label`` starts with "in-domain", as
  the built-in ``shapes-features`` and ``shapes-lpips`` do): such numbers are not comparable with the paper's;
- the counts: ``N real vs M generated`` images (or pairs, samples), as they were measured.

E.g. ``value_label(result, "fid")`` -> ``"in-domain FD (shapes-features, 500 real vs 500 generated)"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sg2eval.result import Result

#: The official detectors and what the paper calls them.
DETECTOR_NAMES = {"inception-v3-tf": "Inception-v3", "vgg16-nv": "VGG16", "vgg16-tv": "VGG16 (torchvision)"}
#: The LPIPS backends of :data:`sg2eval.detectors.lpips.DISTANCES`.
LPIPS_NAMES = frozenset({"lpips-vgg", "vgg16-nv"})


def in_domain(described: Mapping[str, Any] | None) -> bool:
    """Whether a detector's or distance's description calls it in-domain."""
    return str((described or {}).get("label", "")).startswith("in-domain")


def detector_name(described: Mapping[str, Any] | None) -> str:
    """``Inception-v3``, ``VGG16`` or the registered name (``shapes-features``) of a described detector."""
    name = str((described or {}).get("detector", "unknown detector"))
    return DETECTOR_NAMES.get(name, name)


def distance_name(described: Mapping[str, Any] | None) -> str:
    """``LPIPS (vgg16-nv)`` for an LPIPS backend, ``in-domain distance (shapes-lpips)`` for an in-domain one,
    else ``distance <name>``, from a perceptual distance's description (``describe_distance``)."""
    info = described or {}
    name = str(info.get("lpips") or info.get("name") or "unknown")
    if in_domain(info):
        return f"in-domain distance ({name})"
    return f"LPIPS ({name})" if name in LPIPS_NAMES else f"distance {name}"


def counts(result: Result) -> str:
    """``500 real vs 500 generated`` from a result's sources (``fake`` is "generated" when a network), else
    from its ``num_real``/``num_fake`` parameters; ``""`` when neither says."""
    sources = result.provenance.get("sources") or {}
    real, fake = sources.get("real") or {}, sources.get("fake") or {}
    num_real = real.get("num", result.params.get("num_real"))
    num_fake = fake.get("num", result.params.get("num_fake"))
    if num_real is None or num_fake is None:
        return ""
    kind = "generated" if (fake.get("source") or {}).get("kind") == "network" else "fake"
    return f"{num_real} real vs {num_fake} {kind}"


def _named(what: str, *details: str) -> str:
    """``what (detail, detail)`` without the empty details."""
    given = [d for d in details if d]
    return f"{what} ({', '.join(given)})" if given else what


def value_label(result: Result, name: str, kid_scale: float = 1.0) -> str:
    """What the value ``name`` of ``result`` is: metric, detector or distance, and counts (module docstring);
    a value this module does not know is returned as its name. Details the result does not record (a
    parameter, a count) are left out. KID is said to be ``unscaled``, or ``x1e3`` for ``kid_scale=1e3`` (the
    paper's convention for Inception features)."""
    prov, params = result.provenance, result.params
    detector = prov.get("detector")
    prefix = "in-domain " if in_domain(detector) else ""
    by = detector_name(detector) if detector else ""
    if name == "fid":
        metric = "FID" if (detector or {}).get("detector") == "inception-v3-tf" or not detector else "FD"
        return _named(f"{prefix}{metric}", by, counts(result))
    if name in ("kid", "kid_std"):
        what = "KID" if name == "kid" else "std of KID over subsets"
        subsets = (f"{params['num_subsets']} subsets of {params['subset_size']}"
                   if "num_subsets" in params and "subset_size" in params else "")  # fmt: skip
        scale = "unscaled" if kid_scale == 1 else f"x{kid_scale:.0e}".replace("e+0", "e")
        return _named(f"{prefix}{what}", by, counts(result), subsets, scale)
    if name in ("precision", "recall"):
        return _named(f"{prefix}{name}", by, f"k={params['k']}" if "k" in params else "", counts(result))
    if name == "ppl":
        preset = str(params.get("preset") or "")
        pairs = prov.get("num_kept")
        kept = f"{pairs} pairs kept" if pairs is not None else ""
        return _named("PPL", preset, distance_name(prov.get("lpips")) if prov.get("lpips") else "", kept)
    if name.startswith("separability"):
        kept = f"{params['num_keep']} samples kept" if "num_keep" in params else ""
        return _named(f"{name} in {params.get('space', 'W').upper()}", "2^sum H", kept)
    if result.metric == "projection" and name.count("_") == 1:
        side, stat = name.split("_")
        images = f"{params['num']} images" if "num" in params else ""
        distance = distance_name(prov.get("lpips")) if prov.get("lpips") else "distance"
        return _named(f"{stat} {distance} of {side} images to their projections", images)
    return name


def separability_note(result: Result) -> str | None:
    """Why a separability near 1 need not mean disentanglement, when it applies (None otherwise): some
    attributes got one label for every kept image (the classifiers see no such attribute: a network that
    draws noise), or the kept samples are too few for the latent dimension (a linear SVM then fits any
    labels, so every entropy is 0)."""
    table = result.per_item.get("entropies")
    if table is None or not len(table):
        return None
    one_label = [str(a) for a, failed in zip(table.index, table["svm_failed"], strict=True) if failed]
    kept = int(table["num_kept"].max())
    w_dim = ((result.provenance.get("generator") or {}).get("w_dim")) or 0
    parts = []
    if one_label:
        parts.append(f"{len(one_label)} of {len(table)} attributes ({', '.join(one_label)}) got a single "
                     "label for every kept image, so they count 0 bits by definition: the classifiers see "
                     "nothing to separate (as for a network that draws noise)")  # fmt: skip
    if w_dim and kept <= 2 * int(w_dim):
        parts.append(f"{kept} kept samples in a {w_dim}-dimensional latent space: a linear SVM separates "
                     "almost any labels, so entropies near 0 (separability near 1) are expected for any "
                     "network; use more samples (the paper keeps 100 000)")  # fmt: skip
    return "; ".join(parts) + "." if parts else None
