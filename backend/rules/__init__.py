"""Pure domain rules: no I/O, no Flask, no boto."""
