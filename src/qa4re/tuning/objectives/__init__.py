"""Training objectives for ``qa4re tune``: what the loss asks of the model on a rendered item."""
