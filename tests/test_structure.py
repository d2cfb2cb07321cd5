"""The package's shape, read from the source with ``ast``: what the architecture promises a newcomer.

- the top level holds only the entry layer and shared basics; the rest lives in the wings;
- registries live in leaf modules: no module imports a name from its own package's ``__init__``, and no
  ``noqa: E402`` is needed anywhere;
- no code outside ``losses.py`` compares ``gan_mode`` with a string (the ``--gan_mode`` entry says what it needs);
- nothing outside ``models/`` assigns attributes of a recipe (the trainer hands it ``update`` and wraps
  networks through ``Recipe.wrap_networks``); ``visuals`` is a method of every recipe;
- the documented package-level imports work.
"""
import ast
import inspect
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "gantool"
TOP_LEVEL = {"__init__", "cli", "options", "build", "preflight", "check_data", "registry", "errors", "losses", "color"}
WINGS = {"engine", "io", "inference", "metrics", "models", "networks", "backbones", "data", "viz", "ops",
         "pretrained"}


def sources():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"))


def test_top_level_is_the_entry_layer_and_shared_basics():
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert modules == TOP_LEVEL, sorted(modules ^ TOP_LEVEL)
    assert folders == WINGS, sorted(folders ^ WINGS)


def test_no_module_imports_from_its_own_package_init():
    wrong = []
    for path, tree in sources():
        if path.name == "__init__.py":
            continue
        siblings = {p.stem for p in path.parent.glob("*.py")} | {p.name for p in path.parent.iterdir() if p.is_dir()}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module is None:
                names = [a.name for a in node.names if a.name not in siblings]
                if names:
                    wrong.append(f"{path.relative_to(PACKAGE)}:{node.lineno} imports {names} from its package")
    assert not wrong, "\n".join(wrong)


def test_no_import_needs_noqa_e402():
    lines = [f"{p.relative_to(PACKAGE)}:{i}" for p in PACKAGE.rglob("*.py")
             for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if "E402" in line]
    assert not lines, lines


def _compares_gan_mode_with_a_string(node: ast.AST) -> bool:
    if not isinstance(node, ast.Compare):
        return False
    parts = [node.left, *node.comparators]
    named = any((isinstance(p, ast.Name) and p.id == "gan_mode") or
                (isinstance(p, ast.Attribute) and p.attr == "gan_mode") for p in parts)
    strings = any(isinstance(c, ast.Constant) and isinstance(c.value, str) for p in parts for c in ast.walk(p))
    return named and strings


def test_no_code_compares_gan_mode_with_a_string():
    wrong = [f"{p.relative_to(PACKAGE)}:{n.lineno}" for p, tree in sources() if p.name != "losses.py"
             for n in ast.walk(tree) if _compares_gan_mode_with_a_string(n)]
    assert not wrong, wrong


def test_the_gan_mode_finder_finds_comparisons():
    found = [_compares_gan_mode_with_a_string(n) for n in ast.walk(ast.parse('if self.gan_mode == "wgangp": pass'))]
    assert any(found)


def _writes_into_a_recipe(node: ast.AST) -> bool:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
        node, (ast.AugAssign, ast.AnnAssign)) else []
    for target in targets:
        for t in ast.walk(target):
            if isinstance(t, ast.Attribute) and not isinstance(t.ctx, ast.Load):
                owner = t.value
                if (isinstance(owner, ast.Name) and owner.id == "recipe") or (
                        isinstance(owner, ast.Attribute) and owner.attr == "recipe"):
                    return True
    return False


def test_nothing_outside_models_writes_into_a_recipe():
    wrong = [f"{p.relative_to(PACKAGE)}:{n.lineno}" for p, tree in sources() if "models" not in p.parts
             for n in ast.walk(tree) if _writes_into_a_recipe(n)]
    assert not wrong, wrong


def test_the_recipe_writer_finder_finds_writes():
    found = [_writes_into_a_recipe(n) for n in ast.walk(ast.parse("self.recipe.precision = p\nrecipe.networks = {}"))]
    assert sum(found) == 2


@pytest.mark.parametrize("name", ["cycle_gan", "pix2pix", "colorization", "test", "gan", "dcgan", "classifier",
                                  "segmenter"])
def test_visuals_is_a_method(name):
    from gantool.models import MODELS

    cls = MODELS.get(name)
    assert inspect.isfunction(inspect.getattr_static(cls, "visuals")), name


def test_documented_package_imports():
    from gantool import Translator, define_D, define_G  # noqa: F401

    import gantool

    assert callable(gantool.summary.summary)
    with pytest.raises(AttributeError):
        gantool.not_a_thing
