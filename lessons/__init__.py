"""One LightningModule per lesson of the course, each in its own short file.

Importing the package changes nothing global (warning filters, loggers, threads): what the CLI
and the notebooks quiet, and the threads they choose, are ``runner.start.start_run``'s.
"""
