"""docs/hooks/griffe_keras.py: Keras-style docstrings become Google style for mkdocstrings."""

import logging
import sys

import pytest

from tests.docs.conftest import HOOKS

griffe = pytest.importorskip("griffe", reason="needs the docs extra: pip install -e '.[docs]'")
sys.path.insert(0, str(HOOKS))
import griffe_keras  # noqa: E402

KERAS_STYLE = '''Summary.

Args:
    learning_rate: float >= 0. Defaults to `0.1`.
    epsilon: >= 0, added to the root. Defaults to `1e-7`.
    weight_decay, clipnorm, clipvalue,
    use_ema: Keras's base optimizer keywords.

Example:

>>> 1 + 1
2

References:
    - Someone, 2020.'''


def test_keras_example_is_indented_under_an_examples_section():
    text = griffe_keras.keras_to_google(KERAS_STYLE)
    assert "Examples:\n    >>> 1 + 1\n    2\n" in text
    assert "\n>>>" not in text
    assert text.rstrip().endswith("References:\n    - Someone, 2020.")


def test_wrapped_grouped_names_are_joined_and_leading_comparisons_escaped():
    text = griffe_keras.keras_to_google(KERAS_STYLE)
    assert "    weight_decay, clipnorm, clipvalue, use_ema: Keras's base" in text
    assert r"    epsilon: \>= 0, added" in text
    assert r"learning_rate: float >= 0" in text  # only a leading `>` starts a quote


def test_doctest_outside_an_example_section_is_fenced():
    text = griffe_keras.keras_to_google("Returns a loss.\n>>> f(1)\n1\n\nMore text.")
    assert "```pycon\n>>> f(1)\n1\n```" in text and text.endswith("More text.")


def test_documented_names_missing_from_the_signature_are_reported(caplog):
    code = '''
class Opt:
    """Summary.

    Args:
        lr: rate.
        weight_decay, clipnorm,
        bogus: base keywords.
    """

    def __init__(self, lr=1, weight_decay=None, clipnorm=None):
        pass
'''
    with griffe.temporary_visited_module(code) as module:
        with caplog.at_level(logging.WARNING):
            griffe_keras.KerasDocstrings().on_object(obj=module["Opt"])
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 1 and "'bogus'" in warned[0], warned
    sections = module["Opt"].docstring.parse("google", warn_unknown_params=False,
                                             warn_missing_types=False)
    params = [p.name for s in sections if s.kind.value == "parameters" for p in s.value]
    assert params == ["lr", "weight_decay, clipnorm, bogus"]


def test_a_docstring_completed_at_import_time_is_read_from_the_object():
    from keras_lossopt.schedules import cyclical

    module = griffe.load("keras_lossopt.schedules.cyclical")  # static: the source's text
    assert "{formula}" in module["TriangularCyclicalLearningRate"].docstring.value
    griffe_keras.KerasDocstrings().on_object(obj=module["TriangularCyclicalLearningRate"])
    text = module["TriangularCyclicalLearningRate"].docstring.value
    assert "{formula}" not in text and "cycle = floor" in text
    assert "{formula}" in cyclical.__loader__.get_source(cyclical.__name__)  # only the source has it
