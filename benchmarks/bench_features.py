"""Inception feature extraction from a folder of 256 px PNGs: sg2eval vs torch-fidelity vs pytorch-fid.

All three read the same folder and the same weight file: a seeded random Inception state dict in the
pytorch-fid layout (``tests/helpers/fake_weights.py``; the official file cannot be downloaded here and a
random network costs what the real one does). Each contender runs the whole job (load the network, decode,
resize to 299, run, collect [N, 2048]) in a fresh child process, once per interleaved round, so its peak RSS
is its own; pytorch-fid and torch-fidelity use their command lines' DataLoader worker counts. Ratio: peer
seconds / our seconds (> 1: sg2eval faster), medians of ``--repeats`` rounds.

One table per folder size (``--nums``, default 100 200 400: how the cost grows with the number of images,
start-up included).

    python benchmarks/bench_features.py [--quick] [--nums 100 200 400] [--batch 16] [--repeats 3]
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import PIL.Image
from _harness import (
    OURS,
    Contender,
    Params,
    child_entry,
    common_parser,
    in_children,
    machine_line,
    print_table,
)

SIZE = 256
WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"


def write_folder(root: Path, num: int, size: int = SIZE) -> list[Path]:
    """``num`` smooth random RGB PNGs (upsampled noise, so they compress like photos)."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(num):
        coarse = rng.integers(0, 256, (size // 8 + 1, size // 8 + 1, 3), dtype=np.uint8)
        paths.append(root / f"{i:05d}.png")
        PIL.Image.fromarray(coarse).resize((size, size), PIL.Image.Resampling.BILINEAR).save(paths[-1])
    return paths


def write_inputs(root: Path, num: int) -> Params:
    from tests.helpers.fake_weights import write_inception_pth

    root.mkdir(parents=True, exist_ok=True)

    weights = root / WEIGHTS_NAME
    if not weights.exists():
        write_inception_pth(weights, seed=0)
    folder = root / f"png{num}"
    if not folder.exists():
        write_folder(folder, num)
    return {"folder": str(folder), "weights": str(weights)}


def ours(params: Params) -> Callable[[], object]:
    from sg2eval.api import compute_features  # imports before the clock, as the peers' below

    return lambda: (
        compute_features(
            params["folder"], weights=params["weights"], batch_size=params["batch"], cache=False
        ).features.shape
    )


def torch_fidelity(params: Params) -> Callable[[], object]:
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    from torch_fidelity.utils import get_featuresdict_from_dataset, prepare_input_from_descriptor

    def run() -> object:
        extractor = FeatureExtractorInceptionV3(
            "inception-v3-compat", ["2048"], feature_extractor_weights_path=params["weights"]
        )
        dataset = prepare_input_from_descriptor(
            {"input": params["folder"]}, samples_find_deep=False, verbose=False
        )
        found = get_featuresdict_from_dataset(dataset, extractor, params["batch"], False, False, False)
        return tuple(found["2048"].shape)

    return run


def pytorch_fid(params: Params) -> Callable[[], object]:
    import pytorch_fid.inception as pfid
    import torch
    from pytorch_fid.fid_score import get_activations

    files = sorted(str(p) for p in Path(params["folder"]).glob("*.png"))
    workers = min(os.cpu_count() or 1, 8)  # pytorch-fid's command-line default

    def run() -> object:
        state = torch.load(params["weights"], weights_only=True)
        pfid.load_state_dict_from_url = lambda *a, **k: state  # offline: the same weight file as the others
        model = pfid.InceptionV3([pfid.InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()
        return get_activations(files, model, params["batch"], 2048, "cpu", num_workers=workers).shape

    return run


CONTENDERS: dict[str, Contender] = {OURS: ours, "torch-fidelity": torch_fidelity, "pytorch-fid": pytorch_fid}


def main() -> None:
    parser = common_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--nums",
        type=int,
        nargs="+",
        default=None,
        help="images per folder (default 100 200 400; --quick 16)",
    )
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--work", type=Path, default=None, help="folder for the images and weights")
    args = parser.parse_args()
    child_entry(args, CONTENDERS)
    print(machine_line())
    with tempfile.TemporaryDirectory() as tmp:
        for num in args.nums or ([16] if args.quick else [100, 200, 400]):
            params = {**write_inputs(args.work or Path(tmp), num), "batch": args.batch}
            measured = in_children(__file__, list(CONTENDERS), params, args.repeats)
            print_table(
                f"Inception features, {num} PNG {SIZE}x{SIZE}, batch {args.batch}, whole job in a child "
                f"process, median of {args.repeats} interleaved rounds",
                measured,
                items=num,
                unit="img",
            )


if __name__ == "__main__":
    main()
