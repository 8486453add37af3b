"""Unit tests of `mlkube ui`'s pure parts: the gate's verdicts (secret, cookie, Host, origin),
the header rewriting each way, reading /proc/net/tcp, and picking a Service's pod.

Boundary: no sockets and no subprocesses; requests are the gate's ``Request`` values, tables and
Kubernetes objects are literals. The forwarder over real loopback sockets, the kubeconfig loader
and the `mlkube ui` process are in tests/integration/ui."""
