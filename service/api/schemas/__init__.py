"""Request and response bodies, shaped like the LangGraph Server API the SDK speaks."""
