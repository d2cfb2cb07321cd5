"""Every constructor parameter of every registered recipe, dataset mode and the trainer is either a
command-line option of the same name or passed explicitly by ``build.py`` (its ``PASSED_TO_*`` names).

``build._matching`` passes options by name, so a parameter spelled unlike its option (``lambda_nce`` for
``--lambda_NCE``) would silently keep its default; this test names it instead.
"""
import inspect

import pytest

from gantool import build
from gantool.data import DATASETS
from gantool.engine.trainer import Trainer
from gantool.errors import GantoolError
from gantool.models import MODELS
from gantool.options import parse


def option_names(argv):
    """The options ``train.py`` and ``test.py`` accept with ``argv`` (the recipe's and dataset's hooks included)."""
    names = set()
    for is_train in (True, False):
        try:
            names |= set(vars(parse(argv, is_train=is_train)))
        except GantoolError:  # e.g. --model test is for test.py only
            continue
    assert names, f"neither train.py nor test.py accepts {argv}"
    return names


def unmatched(cls, options, passed):
    """Parameters of ``cls.__init__`` that are neither in ``options`` nor in ``passed``."""
    params = inspect.signature(cls.__init__).parameters.values()
    return [p.name for p in params if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
            and p.name not in options and p.name not in passed]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # parsing may look for the built-in data under ./datasets


@pytest.mark.parametrize("model", MODELS.names())
def test_recipe_parameters_are_options(model):
    assert unmatched(MODELS.get(model), option_names(["--model", model]), build.PASSED_TO_RECIPES) == []


@pytest.mark.parametrize("mode", DATASETS.names())
def test_dataset_parameters_are_options(mode):
    assert unmatched(DATASETS.get(mode), option_names(["--dataset_mode", mode]), build.PASSED_TO_DATASETS) == []


def test_trainer_parameters_are_options():
    assert unmatched(Trainer, option_names([]), build.PASSED_TO_TRAINER) == []


def test_a_misspelt_parameter_is_found():
    class Recipe:
        def __init__(self, device, is_train, lambda_nce: float = 1.0, lr: float = 2e-4):
            pass

    assert unmatched(Recipe, {"lambda_NCE", "lr"}, build.PASSED_TO_RECIPES) == ["lambda_nce"]
