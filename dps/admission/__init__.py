"""Admission to a DPS agreement: membership applications, their evaluation and supplier membership."""
