"""PyTorch side of the fully-binarized network: encodings, binary layers, models, KD, pruning."""
