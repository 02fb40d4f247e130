"""The core of the NHS Innovation DPS marketplace."""
