"""Judge backends: a live OpenAI-compatible endpoint (the recorded verdicts of an imported file are Judgment rows)."""
