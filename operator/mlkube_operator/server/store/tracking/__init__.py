"""Tracking stores: one interface (``base.TrackingStore``), several implementations."""
