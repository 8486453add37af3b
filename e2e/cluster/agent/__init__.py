"""The node agent: one node's kubelet, scheduler and service proxy, running pods as local
processes (issue 5). ``LocalCluster`` starts it as its ``node-agent`` service.

Design, in one place (each module's docstring has the details):

- **Node** (``node``): registered with the machine's capacity, kept Ready by a Lease renewed every
  10 s and status heartbeats; ``status.addresses`` and ``daemonEndpoints`` point the API server at
  the agent's kubelet endpoint.
- **Scheduling** (``scheduler``, ``fit``): pending pods that name the default scheduler are bound
  to this node when they fit (taints, selectors, required node affinity, resource requests).
- **Pods** (``pods``, ``podworker``, ``containers``, ``status``): one worker thread per pod drives
  init containers, sidecars and containers with the kubelet's restart policy, back-off, probes
  (``probes``), lifecycle hooks and status (phase, conditions, container states, termination
  messages), and deletes the pod object once its containers are gone.
- **Isolation** (``shim``, ``runtime``): each container is a shim process in its own mount, PID
  and UTS namespaces. Its root is an overlay of the host's ``/`` with a private writable layer, so
  the pod's volumes, ``/etc/hosts``, ``/etc/resolv.conf`` and termination-message file appear at the
  paths the spec asks for without writing the host; ``/tmp`` is private. No orphans: the container's
  processes live in its PID namespace, which the kernel empties when its init dies; the init dies
  with the shim, the shim with the agent (``PR_SET_PDEATHSIG``), the agent with ``make down`` or
  the test session. Requires root (``CAP_SYS_ADMIN``); no cgroups are used, so resource limits are
  not enforced.
- **Images** (``images``): one table maps image references to local programs (the project's
  Python environment, the cached MinIO); anything else is ``ErrImagePull``/``ImagePullBackOff``.
- **Environment and volumes** (``env``, ``volumes``, ``atomic_writer``): env, ``valueFrom``,
  ``envFrom`` and service variables as the kubelet builds them; emptyDir, hostPath, secret,
  configMap, downwardAPI and projected volumes, including a real, refreshed ServiceAccount token.
- **Network** (``ranges``, ``ipam``, ``endpoints``, ``proxy``, ``dns``, ``hostfiles``): pods share
  the host's network namespace; each gets its own loopback address from the node's pod CIDR and
  should bind it (``status.podIP``); Services' ClusterIPs (a loopback range) are served by the
  agent's proxy, ``<svc>.<ns>.svc`` names by its DNS server, which every pod's resolv.conf points
  at. The API refuses loopback addresses in Endpoints/EndpointSlices, so the agent computes
  Service endpoints from pods itself and the controllers that would write them are off. Each
  cluster on a machine has its own slot of the loopback ranges, so concurrent clusters coexist.
- **Logs** (``server``, ``logs``): the kubelet's ``/containerLogs`` over TLS, client certificates
  checked and authorized with SubjectAccessReviews, so ``kubectl logs [-f] [--previous]`` work.

Not provided: exec/attach/port-forward, persistent volumes, UDP Services, pod (anti-)affinity,
resource limits (no cgroups), image pulls of any kind, Endpoints objects (see Network).
"""
