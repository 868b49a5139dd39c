"""Benchmark harness: every ``routeplanner bench …`` writes records of one schema."""

from planner.bench.records import BenchRecord, machine_info, write_records

__all__ = ["BenchRecord", "machine_info", "write_records"]
