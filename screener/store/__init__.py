"""Redis: key schema, Lua scripts, DNC lists, consent ledger, attempts, audit stream. Knows no Asterisk."""
