"""Benchmarks of the NUMA package: scripts that print figures, never assert timings."""
