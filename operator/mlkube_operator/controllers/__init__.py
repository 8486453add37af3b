"""One module per kind; importing this package registers every controller's Kopf handlers."""
