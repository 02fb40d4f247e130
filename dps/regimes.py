"""The two procurement regimes an agreement can run under (RULES.md)."""

from enum import StrEnum


class Regime(StrEnum):
    PCR2015_DPS = "pcr2015_dps"
    PA2023_DYNAMIC_MARKET = "pa2023_dynamic_market"
