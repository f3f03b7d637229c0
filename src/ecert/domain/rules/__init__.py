"""The rules of docs/rules.md as pure functions of (data, policy, today)."""
