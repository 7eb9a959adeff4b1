"""Timed exams: definitions, sessions, the answer journal, submit and results."""
