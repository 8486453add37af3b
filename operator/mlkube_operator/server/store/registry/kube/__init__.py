"""The registry on RegisteredModel and ModelVersion resources (issue 7)."""
