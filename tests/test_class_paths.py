"""Every class path that a config or an earlier checkpoint names still imports.

A checkpoint names its lesson class by the path the config gave
(``hyper_parameters._class_path``), and no lesson class moved.
"""

from __future__ import annotations

import importlib

import pytest
import yaml
from helpers import CONFIGS

#: The lesson classes as configs and checkpoints written before the move name them.
EARLIER_PATHS = [
    "lessons.softmax.SoftmaxClassifier",
    "lessons.cnn.CNN",
    "lessons.advanced_cnn.InceptionNet",
    "lessons.advanced_cnn.ResidualNet",
    "lessons.speedrun.SpeedrunNet",
    "lessons.rnn_basics.HelloRNNCell",
    "lessons.rnn_basics.HelloRNN",
    "lessons.rnn_basics.HelloEmbedding",
    "lessons.name_classifier.NameClassifier",
    "datamodules.mnist.MNISTDataModule",
    "datamodules.names.NamesDataModule",
    "datamodules.hello.HelloDataModule",
]


def resolve(class_path: str) -> type:
    module, _, name = class_path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def class_paths(node: object) -> list[str]:
    """Every ``class_path`` value in a parsed config, at any depth."""
    if isinstance(node, dict):
        own = [node["class_path"]] if isinstance(node.get("class_path"), str) else []
        return own + [path for value in node.values() for path in class_paths(value)]
    if isinstance(node, list):
        return [path for value in node for path in class_paths(value)]
    return []


@pytest.mark.parametrize("config", sorted(CONFIGS.rglob("*.yaml")), ids=lambda path: path.stem)
def test_every_class_path_of_every_config_imports(config):
    for class_path in class_paths(yaml.safe_load(config.read_text())):
        assert isinstance(resolve(class_path), type), class_path


@pytest.mark.parametrize("class_path", EARLIER_PATHS)
def test_lesson_classes_import_from_their_earlier_paths(class_path):
    assert isinstance(resolve(class_path), type)
