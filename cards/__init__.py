"""Adaptive Card builders: plain dicts from small functions, no Bot Framework types."""
