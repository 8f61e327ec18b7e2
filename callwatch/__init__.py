"""callwatch: the command line and the web application shell shared by exporter and receiver."""

__version__ = "0.1.0"
