"""MLflow's search grammar (filters and order_by), parsed once and evaluated over entities."""
