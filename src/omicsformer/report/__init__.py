"""Tables and plots from run results."""
