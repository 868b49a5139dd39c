"""Synthetic instance generators: no data needed."""
