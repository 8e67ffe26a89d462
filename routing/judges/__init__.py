"""Judge backends: the recorded verdicts of an imported file, or a live OpenAI-compatible endpoint."""
