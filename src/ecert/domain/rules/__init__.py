"""The rules of ../shared/domain.md as pure functions of (data, policy, today)."""
