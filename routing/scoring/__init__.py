"""The router: features, candidate scores, the learned model, certification (Learn-then-Test), power,
selection and budgets, and the stored router versions."""
