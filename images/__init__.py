"""mlkube's OCI images (images/README.md): ``from images.build import build_all, index_path``."""
