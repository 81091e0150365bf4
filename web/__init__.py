"""What the collector's and the dashboard's HTTP code share: the JSON response, the mapping of
the one error base to `{"detail": ...}`, and the one way a request gets a database session."""
