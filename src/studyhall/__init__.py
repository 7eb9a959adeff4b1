"""studyhall: timed mock exams, live quizzes, courses, chat and share links."""

__version__ = "0.1.0"
