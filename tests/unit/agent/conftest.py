"""Unit tests of the node agent's pure pieces (e2e/cluster/agent): image table, environment,
status, scheduling filters, endpoints, DNS messages, host files, logs, quantities, back-off, the
atomic writer and the network-slot registry (the last two on a temporary directory). No cluster,
no processes, no sockets."""
