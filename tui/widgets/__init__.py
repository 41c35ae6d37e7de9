"""Widgets the screens share: one widget per module."""
