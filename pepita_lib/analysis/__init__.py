"""Analyses the chapters show, computed from stored records and tested here rather than
written in notebooks."""
