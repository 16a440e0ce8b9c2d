"""Shared test set-up. larq needs Keras 2: the variable must be set before TensorFlow loads.

The package is imported as installed (`make setup` installs it editable); nothing is added to
sys.path here, so a test sees what a user's installation sees.
"""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
