"""The MNIST-1D papers' experiments that are grids of ordinary training runs: their data and reports."""
