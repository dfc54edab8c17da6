"""Turning typed results into text, neutral chat messages and charts."""
