import pytest


@pytest.fixture(scope="session")
def tiny_config():
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from model.config import ProofNetConfig

    return ProofNetConfig.preset("tiny")


@pytest.fixture(scope="session")
def trained_tiny(tiny_config):
    """The tiny model after 50 steps on `memorise.PAIRS`, and its loss curve."""
    import torch

    from model.proofnet import ProofNet
    from tests.model.memorise import train

    torch.manual_seed(0)
    model = ProofNet(tiny_config)
    return model, train(model, steps=50)
