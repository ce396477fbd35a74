"""Test configuration shared by the test suite and the doctests."""

import os

# Quiet TensorFlow's C++ start-up logs; must be set before TensorFlow loads.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
