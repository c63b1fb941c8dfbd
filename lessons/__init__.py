"""One LightningModule per lesson of the course, each in its own short file."""
