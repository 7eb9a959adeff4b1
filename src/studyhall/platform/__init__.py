"""Infrastructure every domain uses: database, hot state, pub/sub, jobs, auth, errors."""
