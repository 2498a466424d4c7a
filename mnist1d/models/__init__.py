"""The MNIST-1D architectures as plain `nn.Module` classes, one per module; conf/train/model/<name>.yaml
names each by its full path (`_target_: mnist1d.models.<name>.<Class>`), so adding one edits nothing here."""
