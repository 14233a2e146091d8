"""Domain packages: each owns its models, service, schemas, errors and stream events."""
