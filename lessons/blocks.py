"""Lesson 11's blocks now live in ``lessons/advanced_cnn.py``, beside the nets, as the course
writes them; this name is kept for code that imports them from here."""

from lessons.advanced_cnn import InceptionA, ResidualBlock

__all__ = ["InceptionA", "ResidualBlock"]
