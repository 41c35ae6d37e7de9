"""The tracker for other tools: the HTTP API (`app`), the MCP server (`mcp`), their shared
operations (`desk`), JSON shapes (`schema`), guards (`guard`) and serving (`server`)."""
