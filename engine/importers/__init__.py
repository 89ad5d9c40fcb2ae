"""Importers: packs and tables from other formats (GoRules JDM graphs, spreadsheets)."""
