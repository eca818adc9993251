"""The training loop of neural models, on Lightning Fabric."""
