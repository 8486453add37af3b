"""What the tracking and registry Kubernetes stores share: one copy of each piece, so that a fix
(a tombstone, a version guard, an error mapping) lands in both at once."""
