"""Content catalog: courses, ordered lessons, lecture videos and search."""
