"""HTTP adapter: FastAPI routers, schemas and error mapping."""
