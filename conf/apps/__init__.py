"""The root configs of the standalone apps (`python -m mnist1d.apps.<name>`); groups come from train/."""
