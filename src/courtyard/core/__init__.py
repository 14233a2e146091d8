"""Config, ids, clock, errors and logging: stdlib and pydantic only."""
