"""The HTTP edge: thin Starlette handlers that validate, call the store and serialize."""
