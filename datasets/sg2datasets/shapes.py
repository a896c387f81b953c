"""The built-in labelled dataset: procedural shapes with independent, visible binary attributes.

Each image shows one main object (circle or square) on a tinted background, plus optional decorations.
Eleven binary attributes are drawn independently with probability 1/2 each; every one of them changes the
pixels of every image visibly at 32x32 and above (``tests/test_shapes_dataset.py``). Any resolution >= 8
renders, but below 32 the small shapes' kind and stripes become hard to see. Continuous nuisances
(position jitter, size jitter, hue, saturation, brightness, background tone, stripe phase) make the attributes
a real classification task rather than a lookup.

Generation is deterministic from a seed: image ``i`` depends only on ``(seed, i)`` — not on how many images
are made or in which chunks — because each image reads one fixed-width row of a single uniform draw.
Rendering is vectorized numpy on signed distances with a one-pixel soft edge (cheap anti-aliasing).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sg2model.core.checks import check

# The attributes, in column order. Names say what a viewer sees when the bit is 1.
ATTRIBUTES: tuple[str, ...] = (
    "square",  # main object is a square (else a circle)
    "large",  # main object is large (else small)
    "warm_object",  # main object's hue is red/orange/yellow (else cyan/blue/violet)
    "left",  # main object sits in the left half (else the right half)
    "top",  # main object sits in the top half (else the bottom half)
    "dark_background",  # background is dark (else light)
    "warm_background",  # background is tinted red (else tinted blue)
    "striped",  # main object carries dark horizontal stripes (else plain)
    "outlined",  # main object has a contrasting outline
    "marker",  # a small square marker sits in the quadrant opposite the main object
    "border",  # a contrasting frame runs along the image edge
)

# Continuous nuisance columns that follow the attribute bits in each image's uniform row.
NUISANCES: tuple[str, ...] = ("jitter_x", "jitter_y", "size", "hue", "saturation", "value", "tone", "phase")
_ROW_WIDTH = len(ATTRIBUTES) + len(NUISANCES)


@dataclass(frozen=True)
class ShapeParams:
    """Everything that decides a batch of images: attribute bits and nuisance values in [0, 1)."""

    attributes: np.ndarray  # [N, A] bool, columns as in ATTRIBUTES
    nuisances: np.ndarray  # [N, len(NUISANCES)] float64 in [0, 1)

    def __len__(self) -> int:
        return int(self.attributes.shape[0])

    def subset(self, start: int, stop: int) -> ShapeParams:
        """Rows ``start:stop``."""
        return ShapeParams(self.attributes[start:stop], self.nuisances[start:stop])

    def with_attribute(self, name: str, value: bool) -> ShapeParams:
        """A copy with attribute ``name`` set to ``value`` for every image, nuisances unchanged."""
        attrs = self.attributes.copy()
        attrs[:, ATTRIBUTES.index(name)] = value
        return ShapeParams(attrs, self.nuisances)


def sample_params(num: int, seed: int = 0) -> ShapeParams:
    """Draw ``num`` images' parameters; row ``i`` depends only on ``(seed, i)``."""
    if num < 0:
        raise ValueError(f"num must be >= 0, got {num}")
    rows = np.random.default_rng(seed).random((num, _ROW_WIDTH))  # [N, A + K], filled row by row
    num_attrs = len(ATTRIBUTES)
    return ShapeParams(attributes=rows[:, :num_attrs] < 0.5, nuisances=rows[:, num_attrs:])


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Vectorized HSV -> RGB for arrays of shape [N] (h in turns); returns [N, 3]."""
    k = (np.array([5.0, 3.0, 1.0])[None, :] + (h[:, None] % 1.0) * 6.0) % 6.0  # [N, 3]
    ramp = np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)
    return v[:, None] - v[:, None] * s[:, None] * ramp


def _coverage(distance: np.ndarray) -> np.ndarray:
    """Share of a pixel inside a shape from its signed distance in pixels (one-pixel soft edge)."""
    return np.clip(0.5 - distance, 0.0, 1.0)


def _blend(img: np.ndarray, colour: np.ndarray, alpha: np.ndarray) -> None:
    """Paint ``colour`` ([N,3] or [N,3,R,R]) over ``img [N,3,R,R]`` in place at coverage ``alpha [N,R,R]``."""
    if colour.ndim == 2:
        colour = colour[:, :, None, None]
    delta = colour - img
    delta *= alpha[:, None]
    img += delta


def render(params: ShapeParams, resolution: int) -> np.ndarray:
    """Render images as uint8 [N, 3, R, R] (pixel centres at ``i + 0.5``; lengths are fractions of R)."""
    if resolution < 8:
        raise ValueError(f"resolution must be >= 8, got {resolution}")
    a = {name: params.attributes[:, i] for i, name in enumerate(ATTRIBUTES)}
    u = {name: params.nuisances[:, i].astype(np.float32) for i, name in enumerate(NUISANCES)}
    res = float(resolution)
    coords = np.arange(resolution, dtype=np.float32) + 0.5  # [R]
    px, py = coords[None, None, :], coords[None, :, None]  # broadcast to [N, R, R]

    # Main object geometry.
    cx = (np.where(a["left"], 0.27, 0.73) + (u["jitter_x"] - 0.5) * 0.08) * res  # [N]
    cy = (np.where(a["top"], 0.27, 0.73) + (u["jitter_y"] - 0.5) * 0.08) * res
    radius = np.where(a["large"], 0.2, 0.11) * (0.9 + 0.2 * u["size"]) * res
    cx, cy, radius = (v.astype(np.float32) for v in (cx, cy, radius))
    dx, dy = px - cx[:, None, None], py - cy[:, None, None]  # [N, R, R]
    dist = np.where(a["square"][:, None, None], np.maximum(np.abs(dx), np.abs(dy)), np.hypot(dx, dy))
    dist = dist - radius[:, None, None]
    body = _coverage(dist)

    # Colours: background tone and tint, object hue family, contrast colour for decorations.
    tone = np.where(a["dark_background"], 0.18, 0.78) + (u["tone"] - 0.5) * 0.1  # [N]
    tint = np.where(a["warm_background"], 0.1, -0.1)
    background = tone[:, None] + tint[:, None] * np.array([1.0, 0.0, -1.0])[None, :]  # [N, 3]
    hue = np.where(a["warm_object"], -0.05 + 0.2 * u["hue"], 0.5 + 0.2 * u["hue"])
    obj = _hsv_to_rgb(hue, 0.7 + 0.3 * u["saturation"], 0.75 + 0.25 * u["value"]).astype(np.float32)
    contrast = np.repeat(a["dark_background"][:, None], 3, axis=1).astype(np.float32)  # [N, 3] white or black

    shape = (len(params), 3, resolution, resolution)
    img = np.broadcast_to(background[:, :, None, None].astype(np.float32), shape).copy()

    # Stripes: dark bands of period max(2 px, R/16) across the object.
    period = max(2.0, res / 16.0)
    band = np.floor((py - cy[:, None, None]) / period + u["phase"][:, None, None]) % 2 == 1  # [N, R, R]
    shade = np.where(band & a["striped"][:, None, None], np.float32(0.35), np.float32(1.0))
    _blend(img, obj[:, :, None, None] * shade[:, None], body)

    # Outline: a ring of width max(1 px, R/32) just inside the object's edge.
    width = max(1.0, res / 32.0)
    ring = body * np.clip(0.5 + dist + width, 0.0, 1.0) * a["outlined"][:, None, None]
    _blend(img, contrast, ring)

    # Marker: small square in the quadrant diagonally opposite the main object.
    mx = (np.where(a["left"], 0.82, 0.18) * res).astype(np.float32)
    my = (np.where(a["top"], 0.82, 0.18) * res).astype(np.float32)
    half = max(1.0, 0.06 * res)
    mdist = np.maximum(np.abs(px - mx[:, None, None]), np.abs(py - my[:, None, None])) - half
    _blend(img, contrast, _coverage(mdist) * a["marker"][:, None, None])

    # Border: frame of width max(1 px, R/32) along the image edge.
    edge = np.minimum(np.minimum(px, res - px), np.minimum(py, res - py)) - width  # [1, R, R]
    _blend(img, contrast, _coverage(edge) * a["border"][:, None, None])

    return np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)


def make_shapes(
    num: int, resolution: int = 32, seed: int = 0, chunk: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """``num`` images uint8 [N, 3, R, R] and their attributes bool [N, A] (columns as in ATTRIBUTES)."""
    check("shapes_resolution", resolution, "resolution")
    params = sample_params(num, seed)
    images = np.empty((num, 3, resolution, resolution), dtype=np.uint8)
    for start in range(0, num, chunk):
        stop = min(num, start + chunk)
        images[start:stop] = render(params.subset(start, stop), resolution)
    return images, params.attributes.copy()
