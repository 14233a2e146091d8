"""The policy's "What we store and why" is written from the data map, per region: every table
with personal data is in it, with the region's lawful bases and retention periods."""

from __future__ import annotations

import re

import pytest

from courtyard.core.regions import POLICY_REGIONS
from courtyard.domains.privacy import get_data_map, render_data_section


@pytest.mark.parametrize("region", POLICY_REGIONS)
def test_every_declared_table_and_column_is_in_the_section(region: str) -> None:
    text = render_data_section(region)
    assert text.startswith("## What we store and why\n")
    for name, table_map in get_data_map().tables.items():
        personal = [c for c, d in table_map.columns.items() if d.category != "none"]
        for column in personal:
            assert re.search(rf"`{name}`: [^|]*\b{column}\b", text), (name, column)
    assert get_data_map().version[:16] in text


def test_the_regions_differ_where_their_laws_do() -> None:
    cn, eu, default = (render_data_section(r) for r in ("CN", "EU", "default"))
    assert "10 years after the transaction" in cn
    assert "5 years after the transaction" in eu
    assert "PIPL Art. 13(2)" in cn
    assert "GDPR Art. 6(1)(b)" in eu
    assert "GDPR" not in cn
    assert "PIPL" not in eu
    assert "FATF Recommendation 11" in default
    assert render_data_section("XX") == default


def test_the_section_is_a_markdown_table_per_category() -> None:
    text = render_data_section("EU")
    assert "### End-to-end encrypted content" in text
    assert "### Not personal" not in text
    for line in text.splitlines():
        if line.startswith("| `"):
            assert line.count(" | ") == 3, line
