"""Hyper-parameter search with Optuna: search spaces declared beside the options (``space``),
trials on a validation part or on inner folds of a training part only (``search``), and the
``omicsformer tune`` run (``run``)."""
