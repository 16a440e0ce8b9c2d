"""Package layout of glt-bnn; the metadata lives in pyproject.toml.

The C runtime, the firmware templates, the board records, the configs and the pretrained model
zoo stay at the top of the repository (firmware_templates/, boards/, configs/, zoo/) and ship
inside the wheel as package data of ``pipeline`` (pipeline/firmware_templates,
pipeline/board_files, pipeline/config_files, pipeline/zoo_files), where pipeline/resources.py
finds them. Sub-packages of pipeline/ are found automatically.
"""
from setuptools import find_packages, setup

DATA_PACKAGES = {
    "pipeline.firmware_templates": "firmware_templates",
    "pipeline.board_files": "boards",
    "pipeline.config_files": "configs",
    "pipeline.zoo_files": "zoo",
}

setup(
    packages=find_packages(include=["pipeline", "pipeline.*"]) + list(DATA_PACKAGES),
    package_dir={"pipeline": "pipeline", **DATA_PACKAGES},
    package_data={name: ["**/*"] for name in DATA_PACKAGES},
    exclude_package_data={name: ["__pycache__/*", "*.pyc"] for name in DATA_PACKAGES},
)
