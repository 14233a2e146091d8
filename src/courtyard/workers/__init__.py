"""Background jobs that run inside every server node (due-time jobs, purges)."""
