"""The optimiser-race tab."""
