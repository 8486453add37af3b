"""End-to-end tier: the real local control plane (etcd, kube-apiserver, kube-controller-manager,
MinIO) started once per session by the `cluster` fixture; tests act as users do, with kubectl,
helm and the Python clients, and every wait is bounded."""
