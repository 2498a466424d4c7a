"""The project's Hydra plugins, in the namespace package where Hydra looks for plugins."""
