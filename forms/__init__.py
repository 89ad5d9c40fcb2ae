"""Bundled form definitions and templates (data only)."""
