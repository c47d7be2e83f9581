"""Trygg: open firmware for a children's safety watch (MicroPython, also importable by CPython)."""
