"""Boards: pin maps as data and one build() that constructs the machine.* objects."""
