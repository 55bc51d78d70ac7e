"""Every YAML in configs/generative_process builds a process whose vocabulary is the YAML's vocab_size."""

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from simplexity.config import CONFIG_DIR as PACKAGE_CONFIG_DIR
from simplexity.generative_processes import GenerativeProcess

CONFIG_DIR = PACKAGE_CONFIG_DIR / "generative_process"


@pytest.mark.parametrize("path", sorted(CONFIG_DIR.glob("*.yaml")), ids=lambda path: path.stem)
def test_yaml_builds_a_process_of_its_vocab_size(path):
    cfg = OmegaConf.load(path)
    assert cfg.name == path.stem
    process = instantiate(cfg.instance)
    assert isinstance(process, GenerativeProcess)
    assert process.vocab_size == cfg.vocab_size
