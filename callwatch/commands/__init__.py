"""One module per ``callwatch`` command (see ``callwatch.cli.COMMANDS``)."""
