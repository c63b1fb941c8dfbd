"""LightningDataModules for the lessons' data, and where their files come from."""
