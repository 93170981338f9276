"""The LangGraph adapter: the only package (besides graphs/) that imports langgraph."""
