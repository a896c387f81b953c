"""Images as the official code renders them, and image grids as PNG files.

- :func:`to_uint8`: generator output in about [-1, 1] -> uint8 [0, 255] exactly as NVIDIA's metric and
  generation code converts it, ``(x * 127.5 + 128).clamp(0, 255).to(uint8)`` (docs/facts.md, "Metrics /
  Common"); every layer that turns generator output into pixels calls it;
- :func:`save_image_grid`: uint8 images tiled into one PNG, written atomically: at their exact pixels by
  default (training snapshots, StyleGAN2 Figure 4's rows), or as a figure for reading (:class:`GridLabels`):
  each image enlarged by an integer nearest-neighbour factor to at least ``min_size`` pixels, a caption under
  each image, a label left of each row and a title on top. The texts are also stored in the PNG's text chunks
  (``Title``, ``sg2:captions``, ``sg2:row_labels`` as JSON), so a reader or a test finds them without OCR.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from sg2model.core.errors import Sg2Error
from sg2model.core.files import atomic_path

TEXT_PIXELS = 12  # font size of captions, row labels and the title
TEXT_GAP = 4  # pixels around each text


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Generator output ``[N, C, H, W]`` in about [-1, 1] -> uint8 ``[N, C, H, W]``, the official rounding."""
    return (images * 127.5 + 128).clamp(0, 255).to(torch.uint8)


@dataclass(frozen=True)
class GridLabels:
    """What a grid shows, for a reader: one caption per image (lines split on ``\\n``; ``""`` for none), one
    label per row, a title, and the smallest edge an image is enlarged to (nearest neighbour, integer
    factor; 0 keeps the exact pixels)."""

    captions: Sequence[str] = ()
    row_labels: Sequence[str] = ()
    title: str = ""
    min_size: int = 128


def enlarge(images: np.ndarray, min_size: int) -> np.ndarray:
    """uint8 ``[N, C, H, W]`` with every pixel repeated ``ceil(min_size / min(H, W))`` times per axis
    (nearest neighbour; images already ``min_size`` or larger are returned as they are)."""
    factor = max(1, math.ceil(min_size / min(images.shape[2:]))) if min_size > 0 else 1
    return images if factor == 1 else images.repeat(factor, axis=2).repeat(factor, axis=3)


def save_image_grid(
    images: np.ndarray,
    path: str | os.PathLike[str],
    columns: int | None = None,
    padding: int = 2,
    labels: GridLabels | None = None,
) -> None:
    """Tile uint8 images [N, C, H, W] (C = 1 or 3) row by row into one PNG with white ``padding``; with
    ``labels``, enlarged and captioned as :class:`GridLabels` says."""
    if images.ndim != 4 or images.dtype != np.uint8 or images.shape[1] not in (1, 3) or len(images) == 0:
        raise Sg2Error(
            f"expected uint8 images [N, 1|3, H, W] with N > 0, got {images.dtype} {tuple(images.shape)}."
        )
    cols = columns or int(np.ceil(np.sqrt(len(images))))
    if labels is None:
        _save_png(_tile(images, cols, padding, padding, 0, 0), path, {})
        return
    _check_labels(labels, len(images), -(-len(images) // cols))
    _save_labelled(enlarge(images, labels.min_size), path, cols, padding, labels)


def _tile(images: np.ndarray, cols: int, pad_x: int, pad_y: int, left: int, top: int) -> np.ndarray:
    """The grid as [H, W, C] uint8: cells ``pad_x``/``pad_y`` apart on white, offset by ``left``/``top``."""
    n, ch, h, w = images.shape
    rows = -(-n // cols)
    grid = np.full((top + rows * (h + pad_y) + pad_x, left + cols * (w + pad_x) + pad_x, ch), 255, np.uint8)
    for k, img in enumerate(images):
        y = top + pad_x + (k // cols) * (h + pad_y)
        x = left + pad_x + (k % cols) * (w + pad_x)
        grid[y : y + h, x : x + w] = img.transpose(1, 2, 0)
    return grid


def _check_labels(labels: GridLabels, n: int, rows: int) -> None:
    if labels.captions and len(labels.captions) != n:
        raise Sg2Error(f"got {len(labels.captions)} captions for {n} images; give one per image.")
    if labels.row_labels and len(labels.row_labels) != rows:
        raise Sg2Error(f"got {len(labels.row_labels)} row labels for {rows} rows; give one per row.")


def _save_labelled(images: np.ndarray, path: str | os.PathLike[str], cols: int, padding: int,
                   labels: GridLabels) -> None:  # fmt: skip
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=TEXT_PIXELS)
    measure = ImageDraw.Draw(Image.new("L", (1, 1)))

    def size(text: str) -> tuple[int, int]:  # width, height of a (multi-line) text in pixels
        if not text:
            return 0, 0
        box = measure.multiline_textbbox((0, 0), text, font=font, spacing=2)
        return int(box[2]), int(box[3])

    n, _, h, w = images.shape
    caption_w = max((size(c)[0] for c in labels.captions), default=0)
    caption_h = max((size(c)[1] for c in labels.captions), default=0)
    gap_x = max(padding, caption_w - w + 2 * TEXT_GAP)  # captions wider than an image widen its cell
    gap_y = padding + (caption_h + 2 * TEXT_GAP if caption_h else 0)
    left = max((size(r)[0] for r in labels.row_labels), default=0)
    left += 2 * TEXT_GAP if left else 0
    title_w, title_h = size(labels.title)
    top = title_h + 2 * TEXT_GAP if title_h else 0
    grid = _tile(images, cols, gap_x, gap_y, left, top)
    if grid.shape[1] < title_w + 2 * TEXT_GAP:  # a long title widens the figure
        wider = np.full((grid.shape[0], title_w + 2 * TEXT_GAP, grid.shape[2]), 255, np.uint8)
        wider[:, : grid.shape[1]] = grid
        grid = wider
    picture = Image.fromarray(grid[:, :, 0] if grid.shape[2] == 1 else grid)
    draw = ImageDraw.Draw(picture)
    ink: Any = 0 if picture.mode == "L" else (0, 0, 0)
    if labels.title:
        draw.text((TEXT_GAP, TEXT_GAP), labels.title, fill=ink, font=font)
    cell_w, cell_h = w + gap_x, h + gap_y
    for k, caption in enumerate(labels.captions):
        x = left + gap_x + (k % cols) * cell_w + (w - size(caption)[0]) // 2
        y = top + gap_x + (k // cols) * cell_h + h + TEXT_GAP
        draw.multiline_text((x, y), caption, fill=ink, font=font, spacing=2, align="center")
    for r, label in enumerate(labels.row_labels):
        y = top + gap_x + r * cell_h + (h - size(label)[1]) // 2
        draw.multiline_text((TEXT_GAP, y), label, fill=ink, font=font, spacing=2)
    texts = {"sg2:captions": json.dumps(list(labels.captions)),
             "sg2:row_labels": json.dumps(list(labels.row_labels))}  # fmt: skip
    _save_png(np.asarray(picture), path, {"Title": labels.title, **texts})


def _save_png(pixels: np.ndarray, path: str | os.PathLike[str], texts: dict[str, str]) -> None:
    """Write [H, W, C] or [H, W] uint8 pixels as a PNG with ``texts`` in its text chunks, atomically."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    info = PngInfo()
    for key, value in texts.items():
        if value:
            info.add_itxt(key, value)
    with atomic_path(path) as tmp:
        Image.fromarray(pixels).save(tmp, format="PNG", pnginfo=info)
