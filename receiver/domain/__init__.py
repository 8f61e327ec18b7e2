"""The receiver's pure core: incidents, actions, escalation, messages. No I/O, no clock;
imports policy/, the standard library and jinja2 only."""
