"""Policy regions and policy texts: which policy applies to whom, parsing and rendering the
shipped templates, refreshing generated sections, and the diff (docs/privacy-consent.md)."""

from __future__ import annotations

import pytest

from courtyard.core.regions import COUNTRY_CODES, EEA_COUNTRIES, policy_region
from courtyard.domains.privacy import InvalidPolicy
from courtyard.domains.privacy.policy_texts import (
    CONSENTS_SECTION,
    DATA_SECTION,
    generated_section,
    parse_template,
    policy_diff,
    refresh_generated,
    render_policy,
    shipped_template,
    version_hash,
)

TEMPLATE = """+++
version = "1"
title = "Test policy"

[purposes.marketing]
gates = "none"
label = "News"

[purposes.cross_border]
gates = "all"
label = "Transfer abroad"
unless_hosted_in = ["cn"]
+++
Intro.

{{ data_section }}

Middle.

{{ consents_section }}

End.
"""


def fixed_section(region: str) -> str:
    return f"## What we store and why\n\nEverything, in {region}."


@pytest.mark.parametrize(
    ("country", "region"),
    [("CN", "CN"), ("cn", "CN"), ("DE", "EU"), ("fr", "EU"), ("IS", "EU"), ("LI", "EU"),
     ("NO", "EU"), ("CH", "default"), ("GB", "default"), ("US", "default"), ("HK", "default"),
     ("", "default")],
)  # fmt: skip
def test_policy_region_follows_the_registration_country(country: str, region: str) -> None:
    assert policy_region(country) == region


def test_the_eea_is_the_27_member_states_and_iceland_liechtenstein_norway() -> None:
    assert len(EEA_COUNTRIES) == 30
    assert EEA_COUNTRIES <= COUNTRY_CODES
    assert {"IS", "LI", "NO"} <= EEA_COUNTRIES
    assert not {"CH", "GB", "CN"} & EEA_COUNTRIES


@pytest.mark.parametrize("region", ["CN", "EU", "default"])
def test_each_shipped_text_parses_and_renders_both_sections(region: str) -> None:
    template = shipped_template(region)
    rendered = render_policy(template, region, hosting_country="", data_section=fixed_section)
    assert rendered.body.startswith(f"# {template.title}\n\nVersion {template.version}\n")
    assert "{{" not in rendered.body
    assert "\x00" not in rendered.body
    assert generated_section(rendered.body, DATA_SECTION) == fixed_section(region)
    consents = generated_section(rendered.body, CONSENTS_SECTION)
    assert consents is not None
    assert all(f"`{name}`" in consents for name in rendered.purposes)
    assert rendered.version_hash == version_hash(rendered.body)
    assert rendered.purposes["marketing"] == {
        "gates": "none", "required": False, "label": "Send me news about Courtyard features"
    }  # fmt: skip


def test_the_cn_text_asks_separate_consents_and_cites_the_pipl_rights() -> None:
    rendered = render_policy(
        shipped_template("CN"), "CN", hosting_country="", data_section=fixed_section
    )
    assert rendered.purposes["sensitive_data"]["gates"] == "wallet"
    assert rendered.purposes["sensitive_data"]["required"] is False
    assert rendered.purposes["cross_border"] == {
        "gates": "all", "required": True, "label": rendered.purposes["cross_border"]["label"]
    }  # fmt: skip
    for article in ("art. 44", "art. 45", "art. 46", "art. 47", "art. 48", "art. 49", "art. 50"):
        assert article in rendered.body


def test_the_eu_text_names_a_basis_per_purpose_and_the_rights_of_articles_15_to_22() -> None:
    body = render_policy(
        shipped_template("EU"), "EU", hosting_country="", data_section=fixed_section
    ).body
    for article in ("6(1)(a)", "6(1)(b)", "6(1)(c)", "6(1)(f)", "art. 77", "art. 45", "art. 46"):
        assert article in body
    for right in range(15, 23):
        assert f"art. {right})" in body


def test_cross_border_is_not_asked_when_the_server_is_hosted_in_china() -> None:
    template = parse_template(TEMPLATE)
    abroad = render_policy(template, "CN", hosting_country="", data_section=fixed_section)
    at_home = render_policy(template, "CN", hosting_country="CN", data_section=fixed_section)
    assert set(abroad.purposes) == {"marketing", "cross_border"}
    assert set(at_home.purposes) == {"marketing"}
    assert abroad.version_hash != at_home.version_hash  # the consents section says so


def test_refreshing_replaces_only_the_generated_sections() -> None:
    template = parse_template(TEMPLATE)
    old = render_policy(template, "EU", hosting_country="", data_section=fixed_section)
    fresh = refresh_generated(old.body, "EU", old.purposes, lambda r: "## What we store\n\nNew.")
    assert refresh_generated(old.body, "EU", old.purposes, fixed_section) == old.body
    assert generated_section(fresh, DATA_SECTION) == "## What we store\n\nNew."
    assert fresh.replace("## What we store\n\nNew.", fixed_section("EU")) == old.body


def test_a_data_section_without_a_heading_gets_one() -> None:
    rendered = render_policy(
        parse_template(TEMPLATE), "EU", hosting_country="", data_section=lambda r: "Rows."
    )
    assert generated_section(rendered.body, DATA_SECTION) == "## What we store and why\n\nRows."


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("no front matter", "front matter"),
        ('+++\ntitle = "T"\n', "front matter"),
        ('+++\nversion = "1"\n+++\n{{ data_section }}\n{{ consents_section }}\n', "title"),
        ('+++\ntitle = "T"\n+++\n{{ data_section }}\n{{ consents_section }}\n', "version"),
        ('+++\ntitle = "T"\nversion = 1\n+++\n{{ consents_section }}\n', "data_section"),
        ('+++\ntitle = "T"\nversion = 1\n+++\n{{ data_section }}\n{{ data_section }}\n'
         "{{ consents_section }}\n", "data_section"),
        ('+++\ntitle = "T"\nversion = 1\n+++\n{{ data_section }}\n', "consents_section"),
        ("+++\ntitle = [\n+++\n", "TOML"),
        ('+++\ntitle = "T"\nversion = 1\n[purposes.x]\ngates = "some"\nlabel = "L"\n+++\n'
         "{{ data_section }}\n{{ consents_section }}\n", "gates"),
        ('+++\ntitle = "T"\nversion = 1\n[purposes.Bad]\ngates = "none"\nlabel = "L"\n+++\n'
         "{{ data_section }}\n{{ consents_section }}\n", "lower-case"),
    ],
)  # fmt: skip
def test_an_invalid_template_is_refused_with_the_reason(text: str, complaint: str) -> None:
    with pytest.raises(InvalidPolicy) as refused:
        parse_template(text)
    assert complaint in refused.value.detail


def test_the_diff_marks_added_and_removed_lines() -> None:
    lines = policy_diff("a\nb\nc\n", "a\nc\nd\n", old_label="v1", new_label="v2")
    assert lines[:2] == ["--- v1", "+++ v2"]
    assert {"-b", "+d", " a"} <= set(lines)
    assert policy_diff("same\n", "same\n", old_label="v1", new_label="v2") == []
