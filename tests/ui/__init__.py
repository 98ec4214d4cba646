"""Helpers of the browser tests (tests/test_ui.py)."""
