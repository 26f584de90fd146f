"""Benchmarks that print their figures (design section 9); never run as tests."""
