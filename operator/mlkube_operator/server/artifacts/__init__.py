"""The derivation of every object key the server writes (the store itself is mlkube.objects)."""
