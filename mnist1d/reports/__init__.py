"""Tables and figures of finished sweeps, one module per sweep kind, their shared helpers in `common`."""
