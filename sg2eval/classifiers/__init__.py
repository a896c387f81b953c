"""Attribute classifiers for the linear separability metric: networks, training, official loader, sets."""

from __future__ import annotations

from sg2eval.classifiers.classifier_set import (
    ClassifierEntry,
    ClassifierSet,
    load_classifier_set,
    write_manifest,
)
from sg2eval.classifiers.model import box_downsample, build_attribute_network
from sg2eval.classifiers.official import OFFICIAL_ATTRIBUTES, load_official_classifier
from sg2eval.classifiers.train import TrainConfig, TrainReport, train_classifiers

__all__ = [
    "OFFICIAL_ATTRIBUTES",
    "ClassifierEntry",
    "ClassifierSet",
    "TrainConfig",
    "TrainReport",
    "box_downsample",
    "build_attribute_network",
    "load_classifier_set",
    "load_official_classifier",
    "train_classifiers",
    "write_manifest",
]
