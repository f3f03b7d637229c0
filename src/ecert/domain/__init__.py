"""Pure domain: model, identifiers, policy and the rules of the 2021-01-27 notice. No I/O, no clock."""
