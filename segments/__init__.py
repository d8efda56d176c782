"""Segments: the rule language, the Japanese age/grade calendar, and rule evaluation."""
