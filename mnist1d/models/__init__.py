"""The MNIST-1D architectures as plain ``nn.Module`` classes, one per module."""

from mnist1d.models.cnn import CNN
from mnist1d.models.dcnn import DilatedCNN
from mnist1d.models.gru import GRU
from mnist1d.models.logistic import LogisticRegression
from mnist1d.models.mlp import MLP
from mnist1d.models.mlp_plain import PlainMLP
from mnist1d.models.pool_cnn import PoolCNN
from mnist1d.models.resnet import ResNet
from mnist1d.models.tcn import TCN

__all__ = ["CNN", "GRU", "MLP", "TCN", "DilatedCNN", "LogisticRegression", "PlainMLP", "PoolCNN", "ResNet"]
