"""One training run: config -> DataModule + Classifier -> Lightning Trainer -> results.json."""
