"""Benchmarks: ``python -m bench`` measures studyhall against a bare ASGI handler."""
