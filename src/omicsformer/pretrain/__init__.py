"""Self-supervised pretraining (masked expression modelling) and fine-tuning from it."""
