"""MPDP gateway: routes public paths to the owning service, verifies tokens at the edge,
rate limits, streams bodies both ways and merges the services' OpenAPI documents."""
