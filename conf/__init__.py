"""The Hydra configs, shipped inside the package as `mnist1d.conf` so installed commands find them."""
