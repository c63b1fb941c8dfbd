"""``DigitClassifier`` now lives in ``lessons/classifier.py``; this name is kept for code that
imports it from here."""

from lessons.classifier import DigitClassifier

__all__ = ["DigitClassifier"]
