"""Training, evaluation, prediction and the run directories they read and write."""
