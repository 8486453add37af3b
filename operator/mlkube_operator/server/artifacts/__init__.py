"""Object storage (MinIO or any S3) and the derivation of every key the server writes."""
