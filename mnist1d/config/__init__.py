"""The Python side of the configs in conf/ (`mnist1d.conf`): where the config trees are and how they are
composed outside a Hydra app (`compose`), what the YAML takes from Python (`resolvers`) and the names of the
evaluation splits (`splits`).

Every layer uses these, so they import neither torch nor Lightning: a command that only composes a config or
writes a report starts in a fraction of a second.
"""
