"""Dataset preparation for sg2eval: the procedural labelled shapes dataset and labelled-dataset files."""

from __future__ import annotations

from sg2datasets.labelled import LabelledDataset, read_attributes, write_labelled_zip
from sg2datasets.shapes import ATTRIBUTES, make_shapes

__all__ = ["ATTRIBUTES", "LabelledDataset", "make_shapes", "read_attributes", "write_labelled_zip"]
