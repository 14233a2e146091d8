"""ISO 3166-1 alpha-2 country codes, the registration regions a user can choose, and the
policy region (CN, EU, default) each belongs to."""

from __future__ import annotations

# The 249 officially assigned codes of ISO 3166-1 (as published by the ISO 3166 Maintenance
# Agency, via the pycountry database).
_CODES = """
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR
BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ
EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW
GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY
KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV
MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY
QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG
TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM
ZW
"""
COUNTRY_CODES = frozenset(_CODES.split())


def is_country_code(code: str) -> bool:
    """Whether ``code`` is an assigned ISO 3166-1 alpha-2 code (upper case)."""
    return code in COUNTRY_CODES


# Policy regions (docs/privacy-consent.md): which privacy policy applies to a user follows from
# the country they registered with.
CN_POLICY = "CN"
EU_POLICY = "EU"
DEFAULT_POLICY = "default"
POLICY_REGIONS = (CN_POLICY, EU_POLICY, DEFAULT_POLICY)
# The 27 EU member states, and Iceland, Liechtenstein and Norway (the rest of the EEA), where
# the GDPR applies.
_EEA = """
AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK
IS LI NO
"""
EEA_COUNTRIES = frozenset(_EEA.split())


def policy_region(country: str) -> str:
    """The policy region for a registration country: ``CN``, ``EU`` (the EEA) or ``default``."""
    code = country.upper()
    if code == "CN":
        return CN_POLICY
    if code in EEA_COUNTRIES:
        return EU_POLICY
    return DEFAULT_POLICY
