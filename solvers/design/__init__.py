"""Bi-level network design: which links get an extra lane, which lanes are reversed."""
