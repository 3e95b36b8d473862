"""2D loss surfaces and optimiser races (Qt-free)."""
