"""The function-word guess shared by extraction and the dedup engine."""

from __future__ import annotations

import pytest

from aggregator.languages import by_function_words


@pytest.mark.parametrize(
    ("text", "min_hits", "expected"),
    [
        ("el gobierno anunció que el plan para la ciudad está listo", 2, "es"),
        ("le gouvernement a annoncé que le plan pour la ville est prêt", 2, "fr"),
        ("the council said that the plan for the city is ready", 2, "en"),
        # thin evidence: fewer hits than asked for
        ("el gobierno anunció un plan", 5, None),
        # no clear leader: "que" and "para" are Spanish and Portuguese alike
        ("que para", 2, None),
        # hits that cover under a tenth of the words
        ("the " + "lorem " * 40, 1, None),
        ("", 1, None),
    ],
)
def test_a_language_is_named_only_when_its_function_words_clearly_lead(
    text: str, min_hits: int, expected: str | None
) -> None:
    assert by_function_words(text.split(), min_hits=min_hits) == expected
