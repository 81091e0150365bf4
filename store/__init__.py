"""Schema, engine, session factory and database settings: the room every other package shares."""
