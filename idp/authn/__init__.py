"""The sign-in domain: factor vocabulary, the pure sign-in policy, one module per factor."""
