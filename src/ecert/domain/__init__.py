"""Pure domain: model, identifiers, policy, the rules of the 2021-01-27 notice, the printed content and
the verdict types of a verification (``verification``). No I/O, no clock, standard library only."""
