"""Bundled policy packs (data only): one folder per pack, each with policy.yaml."""
