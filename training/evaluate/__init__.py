"""Evaluation: domain metrics (ads, tables) run through the same serving code as the API."""
