"""Stacked training: the seeds of one configuration trained together as one stacked net, each still its own
run (its own run directory, results.json, checkpoints and logger rows)."""
