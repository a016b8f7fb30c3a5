"""The pure policy engine: facts and a clock in, a decision out. No I/O anywhere in this package."""
