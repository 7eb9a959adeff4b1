"""Server-rendered pages (Jinja2 + small vanilla JS modules, no build step)."""
