"""One module per wire protocol: paths, validation, JSON bodies, SSE framing, error bodies."""
