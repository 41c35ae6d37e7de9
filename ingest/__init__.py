"""Sources: one module per site behind the `Source` protocol, plus HTML→text and link extraction."""
