"""Pure manifest builders: typed input in, plain dict out; no I/O, no clock, no randomness."""
