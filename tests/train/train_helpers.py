"""Helpers of the train layer: the tiny config and variants of it."""
from pathlib import Path

import yaml

from pipeline.config import config_from_dict

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "configs" / "tiny.yaml"


def tiny_config(name: str, **sections):
    """configs/tiny.yaml with some sections' keys replaced (nested dicts merged)."""
    doc = yaml.safe_load(TINY.read_text())
    doc["name"] = name
    for section, values in sections.items():
        node = doc.setdefault(section, {})
        for key, value in values.items():
            if isinstance(value, dict) and isinstance(node.get(key), dict):
                node[key] = {**node[key], **value}
            else:
                node[key] = value
    return config_from_dict(doc, source=f"tiny:{name}")
