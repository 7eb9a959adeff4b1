"""Users, roles, cohorts, login, tokens and browser sessions."""
