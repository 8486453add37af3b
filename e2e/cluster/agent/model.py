"""The parts of the Kubernetes core API the node agent reads and writes, as typed models.

Objects are parsed once, where they enter the agent (the informers and the API client), with
unknown fields ignored; the rest of the agent sees only these types. Field names follow the API's
JSON (camelCase aliases), so ``Model.model_validate(api_json)`` and ``model.wire()`` round-trip.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class KubeModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )

    def wire(self) -> dict[str, Any]:
        """The JSON the API server expects: camelCase, unset fields left out."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


# -- metadata ---------------------------------------------------------------------------------


class OwnerReference(KubeModel):
    api_version: str = ""
    kind: str = ""
    name: str = ""
    uid: str = ""
    controller: bool | None = None


class ObjectMeta(KubeModel):
    name: str = ""
    namespace: str = ""
    uid: str = ""
    resource_version: str = ""
    generation: int | None = None
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None
    deletion_grace_period_seconds: int | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    owner_references: list[OwnerReference] = Field(default_factory=list)


# -- pod spec ---------------------------------------------------------------------------------


class ObjectFieldSelector(KubeModel):
    field_path: str
    api_version: str | None = None


class ResourceFieldSelector(KubeModel):
    resource: str
    container_name: str | None = None
    divisor: str | int | None = None


class KeySelector(KubeModel):
    """configMapKeyRef and secretKeyRef."""

    name: str = ""
    key: str
    optional: bool | None = None


class EnvVarSource(KubeModel):
    field_ref: ObjectFieldSelector | None = None
    resource_field_ref: ResourceFieldSelector | None = None
    config_map_key_ref: KeySelector | None = None
    secret_key_ref: KeySelector | None = None


class EnvVar(KubeModel):
    name: str
    value: str | None = None
    value_from: EnvVarSource | None = None


class SourceRef(KubeModel):
    """configMapRef and secretRef of envFrom."""

    name: str = ""
    optional: bool | None = None


class EnvFromSource(KubeModel):
    prefix: str = ""
    config_map_ref: SourceRef | None = None
    secret_ref: SourceRef | None = None


class ContainerPort(KubeModel):
    container_port: int
    name: str | None = None
    protocol: str = "TCP"
    host_port: int | None = None


class ResourceRequirements(KubeModel):
    limits: dict[str, str | int] = Field(default_factory=dict)
    requests: dict[str, str | int] = Field(default_factory=dict)


class VolumeMount(KubeModel):
    name: str
    mount_path: str
    sub_path: str = ""
    sub_path_expr: str = ""
    read_only: bool = False


class ExecAction(KubeModel):
    command: list[str] = Field(default_factory=list)


class HTTPHeader(KubeModel):
    name: str
    value: str


class HTTPGetAction(KubeModel):
    port: int | str
    path: str = "/"
    host: str | None = None
    scheme: str = "HTTP"
    http_headers: list[HTTPHeader] = Field(default_factory=list)


class TCPSocketAction(KubeModel):
    port: int | str
    host: str | None = None


class GRPCAction(KubeModel):
    port: int
    service: str | None = None


class SleepAction(KubeModel):
    seconds: int


class Handler(KubeModel):
    """A probe's or a lifecycle hook's action; exactly one is set."""

    exec_: ExecAction | None = Field(default=None, alias="exec")
    http_get: HTTPGetAction | None = None
    tcp_socket: TCPSocketAction | None = None
    grpc: GRPCAction | None = None
    sleep: SleepAction | None = None


class Probe(Handler):
    initial_delay_seconds: int = 0
    timeout_seconds: int = 1
    period_seconds: int = 10
    success_threshold: int = 1
    failure_threshold: int = 3
    termination_grace_period_seconds: int | None = None


class Lifecycle(KubeModel):
    post_start: Handler | None = None
    pre_stop: Handler | None = None


class SecurityContext(KubeModel):
    """The user fields of a container's or a pod's securityContext (the rest is not enforced)."""

    run_as_user: int | None = None
    run_as_group: int | None = None
    run_as_non_root: bool | None = None


class Container(KubeModel):
    name: str
    image: str = ""
    command: list[str] = Field(default_factory=list)
    args: list[str] = Field(default_factory=list)
    working_dir: str = ""
    env: list[EnvVar] = Field(default_factory=list)
    env_from: list[EnvFromSource] = Field(default_factory=list)
    ports: list[ContainerPort] = Field(default_factory=list)
    resources: ResourceRequirements = Field(default_factory=ResourceRequirements)
    volume_mounts: list[VolumeMount] = Field(default_factory=list)
    liveness_probe: Probe | None = None
    readiness_probe: Probe | None = None
    startup_probe: Probe | None = None
    lifecycle: Lifecycle | None = None
    termination_message_path: str = "/dev/termination-log"
    termination_message_policy: str = "File"
    security_context: SecurityContext | None = None
    # Only on init containers: "Always" makes it a sidecar.
    restart_policy: str | None = None


class KeyToPath(KubeModel):
    key: str
    path: str
    mode: int | None = None


class SecretVolumeSource(KubeModel):
    secret_name: str = ""
    items: list[KeyToPath] = Field(default_factory=list)
    default_mode: int | None = None
    optional: bool | None = None


class ConfigMapVolumeSource(KubeModel):
    name: str = ""
    items: list[KeyToPath] = Field(default_factory=list)
    default_mode: int | None = None
    optional: bool | None = None


class DownwardAPIVolumeFile(KubeModel):
    path: str
    field_ref: ObjectFieldSelector | None = None
    resource_field_ref: ResourceFieldSelector | None = None
    mode: int | None = None


class DownwardAPIVolumeSource(KubeModel):
    items: list[DownwardAPIVolumeFile] = Field(default_factory=list)
    default_mode: int | None = None


class ServiceAccountTokenProjection(KubeModel):
    path: str
    audience: str | None = None
    expiration_seconds: int = 3600


class ProjectedSecret(KubeModel):
    name: str = ""
    items: list[KeyToPath] = Field(default_factory=list)
    optional: bool | None = None


class ProjectedDownwardAPI(KubeModel):
    items: list[DownwardAPIVolumeFile] = Field(default_factory=list)


class VolumeProjection(KubeModel):
    service_account_token: ServiceAccountTokenProjection | None = None
    config_map: ProjectedSecret | None = None
    secret: ProjectedSecret | None = None
    downward_api: ProjectedDownwardAPI | None = Field(default=None, alias="downwardAPI")


class ProjectedVolumeSource(KubeModel):
    sources: list[VolumeProjection] = Field(default_factory=list)
    default_mode: int | None = None


class EmptyDirVolumeSource(KubeModel):
    medium: str = ""
    size_limit: str | None = None


class HostPathVolumeSource(KubeModel):
    path: str
    type: str = ""


class Volume(KubeModel):
    name: str
    empty_dir: EmptyDirVolumeSource | None = None
    secret: SecretVolumeSource | None = None
    config_map: ConfigMapVolumeSource | None = None
    downward_api: DownwardAPIVolumeSource | None = Field(default=None, alias="downwardAPI")
    projected: ProjectedVolumeSource | None = None
    host_path: HostPathVolumeSource | None = None


class Toleration(KubeModel):
    key: str = ""
    operator: str = "Equal"
    value: str = ""
    effect: str = ""


class NodeSelectorRequirement(KubeModel):
    key: str
    operator: str
    values: list[str] = Field(default_factory=list)


class NodeSelectorTerm(KubeModel):
    match_expressions: list[NodeSelectorRequirement] = Field(default_factory=list)
    match_fields: list[NodeSelectorRequirement] = Field(default_factory=list)


class NodeSelector(KubeModel):
    node_selector_terms: list[NodeSelectorTerm] = Field(default_factory=list)


class NodeAffinity(KubeModel):
    required_during_scheduling_ignored_during_execution: NodeSelector | None = None


class Affinity(KubeModel):
    node_affinity: NodeAffinity | None = None


class HostAlias(KubeModel):
    ip: str
    hostnames: list[str] = Field(default_factory=list)


class PodDNSConfigOption(KubeModel):
    name: str
    value: str | None = None


class PodDNSConfig(KubeModel):
    nameservers: list[str] = Field(default_factory=list)
    searches: list[str] = Field(default_factory=list)
    options: list[PodDNSConfigOption] = Field(default_factory=list)


class ReadinessGate(KubeModel):
    condition_type: str


class PodSpec(KubeModel):
    containers: list[Container] = Field(default_factory=list)
    init_containers: list[Container] = Field(default_factory=list)
    volumes: list[Volume] = Field(default_factory=list)
    restart_policy: str = "Always"
    termination_grace_period_seconds: int = 30
    active_deadline_seconds: int | None = None
    node_name: str = ""
    node_selector: dict[str, str] = Field(default_factory=dict)
    scheduler_name: str = "default-scheduler"
    service_account_name: str = "default"
    hostname: str = ""
    subdomain: str = ""
    enable_service_links: bool = True
    dns_policy: str = "ClusterFirst"
    dns_config: PodDNSConfig | None = None
    host_aliases: list[HostAlias] = Field(default_factory=list)
    host_network: bool = False
    security_context: SecurityContext | None = None
    tolerations: list[Toleration] = Field(default_factory=list)
    affinity: Affinity | None = None
    readiness_gates: list[ReadinessGate] = Field(default_factory=list)
    priority: int = 0
    overhead: dict[str, str | int] = Field(default_factory=dict)


# -- pod status -------------------------------------------------------------------------------


class ContainerStateWaiting(KubeModel):
    reason: str
    message: str | None = None


class ContainerStateRunning(KubeModel):
    started_at: str


class ContainerStateTerminated(KubeModel):
    exit_code: int
    reason: str
    message: str | None = None
    signal: int | None = None
    started_at: str | None = None
    finished_at: str | None = None
    container_id: str | None = Field(default=None, alias="containerID")


class ContainerState(KubeModel):
    waiting: ContainerStateWaiting | None = None
    running: ContainerStateRunning | None = None
    terminated: ContainerStateTerminated | None = None


class ContainerStatus(KubeModel):
    name: str
    state: ContainerState = Field(default_factory=ContainerState)
    last_state: ContainerState = Field(default_factory=ContainerState)
    ready: bool = False
    started: bool | None = None
    restart_count: int = 0
    image: str = ""
    image_id: str = Field(default="", alias="imageID")
    container_id: str | None = Field(default=None, alias="containerID")


class PodCondition(KubeModel):
    type: str
    status: str
    reason: str | None = None
    message: str | None = None
    last_transition_time: str | None = None
    last_probe_time: str | None = None


class PodIP(KubeModel):
    ip: str


class PodStatus(KubeModel):
    phase: str = "Pending"
    conditions: list[PodCondition] = Field(default_factory=list)
    message: str | None = None
    reason: str | None = None
    host_ip: str | None = Field(default=None, alias="hostIP")
    host_ips: list[PodIP] | None = Field(default=None, alias="hostIPs")
    pod_ip: str | None = Field(default=None, alias="podIP")
    pod_ips: list[PodIP] | None = Field(default=None, alias="podIPs")
    start_time: str | None = None
    init_container_statuses: list[ContainerStatus] | None = None
    container_statuses: list[ContainerStatus] | None = None
    qos_class: str | None = Field(default=None, alias="qosClass")


class Pod(KubeModel):
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: PodSpec = Field(default_factory=PodSpec)
    status: PodStatus = Field(default_factory=PodStatus)

    @property
    def key(self) -> str:
        return f"{self.metadata.namespace}/{self.metadata.name}"

    def container(self, name: str) -> Container | None:
        for container in (*self.spec.init_containers, *self.spec.containers):
            if container.name == name:
                return container
        return None


# -- services, endpoints, config --------------------------------------------------------------


class ServicePort(KubeModel):
    port: int
    name: str = ""
    protocol: str = "TCP"
    target_port: int | str | None = None
    node_port: int | None = None


class ServiceSpec(KubeModel):
    type: str = "ClusterIP"
    cluster_ip: str = Field(default="", alias="clusterIP")
    ports: list[ServicePort] = Field(default_factory=list)
    selector: dict[str, str] = Field(default_factory=dict)
    external_name: str = ""
    publish_not_ready_addresses: bool = False


class Service(KubeModel):
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: ServiceSpec = Field(default_factory=ServiceSpec)

    @property
    def headless(self) -> bool:
        return self.spec.cluster_ip in ("", "None")


class EndpointConditions(KubeModel):
    ready: bool | None = None
    serving: bool | None = None
    terminating: bool | None = None


class Endpoint(KubeModel):
    addresses: list[str] = Field(default_factory=list)
    conditions: EndpointConditions = Field(default_factory=EndpointConditions)
    hostname: str | None = None


class EndpointPort(KubeModel):
    name: str | None = None
    port: int | None = None
    protocol: str = "TCP"


class EndpointSlice(KubeModel):
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    address_type: str = "IPv4"
    endpoints: list[Endpoint] | None = None
    ports: list[EndpointPort] | None = None

    @property
    def service_name(self) -> str:
        return self.metadata.labels.get("kubernetes.io/service-name", "")


class ConfigMap(KubeModel):
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    data: dict[str, str] = Field(default_factory=dict)
    binary_data: dict[str, str] = Field(default_factory=dict)


class Secret(KubeModel):
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    # base64, as the API serves it.
    data: dict[str, str] = Field(default_factory=dict)


class Taint(KubeModel):
    key: str
    effect: str
    value: str = ""


class NodeSpec(KubeModel):
    pod_cidr: str = Field(default="", alias="podCIDR")
    taints: list[Taint] = Field(default_factory=list)
    unschedulable: bool = False


class NodeStatus(KubeModel):
    allocatable: dict[str, str] = Field(default_factory=dict)


class Node(KubeModel):
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: NodeSpec = Field(default_factory=NodeSpec)
    status: NodeStatus = Field(default_factory=NodeStatus)
