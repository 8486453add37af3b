"""Collection: the operations on one kind in one namespace, typed by its pydantic model.

``client.runs.get("train")`` returns a ``Run``; ``client.runs.wait("train", phases={...})`` blocks
until the watch shows it there. Objects travel as the API server returns them and are parsed once,
here, into the resource models of ``mlkube.api``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from collections.abc import Collection as Container
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from mlkube.api.common import API_VERSION, Model
from mlkube.api.errors import problems_of
from mlkube.api.kinds import Kind
from mlkube.client.errors import ApiError, Invalid, WaitTimeout
from mlkube.client.kube import Kube, Obj

M = TypeVar("M", bound=Model)
Progress = Callable[[Any], None]
# How long one watch request of a wait lasts before it is renewed.
WATCH_SECONDS = 60


def parse_object(kind: Kind, obj: Obj, model: type[M]) -> M:
    """The server's object as its model; Invalid naming the field when it does not fit (a
    cluster whose CRDs are of another mlkube version)."""
    try:
        return model.model_validate(obj)
    except ValidationError as err:
        name = (obj.get("metadata") or {}).get("name")
        raise Invalid(
            f"{kind.kind} {name!r} does not fit this mlkube's model "
            f"({'; '.join(problems_of(err)[:3])}); are the cluster's CRDs of another version?"
        ) from None


def status_of(obj: Model, field: str) -> Any:
    """``obj.status.<field>`` (snake_case), or None."""
    return getattr(getattr(obj, "status", None), field, None)


class Collection(Generic[M]):
    """One kind of resource in one namespace."""

    def __init__(self, kube: Kube, kind: Kind, model: type[M], namespace: str) -> None:
        self.kube = kube
        self.kind = kind
        self.model = model
        self.namespace = namespace

    def _parse(self, obj: Obj) -> M:
        return parse_object(self.kind, obj, self.model)

    def body(self, obj: M | Mapping[str, Any]) -> Obj:
        """The wire form of ``obj``, checked against the model before anything is sent."""
        if isinstance(obj, Model):
            data = obj.to_wire()
        else:
            data = {"apiVersion": API_VERSION, "kind": self.kind.kind, **dict(obj)}
            try:
                data = self.model.model_validate(data).to_wire()
            except ValidationError as err:
                raise Invalid(f"{self.kind.kind}: {'; '.join(problems_of(err))}") from None
        data.setdefault("metadata", {})["namespace"] = self.namespace
        # Fields the API server sets are not ours to send on create.
        for key in ("uid", "resourceVersion", "generation", "creationTimestamp"):
            data["metadata"].pop(key, None)
        if not data.get("status"):
            data.pop("status", None)
        return data

    def create(self, obj: M | Mapping[str, Any]) -> M:
        """Create ``obj`` (a model, or a dict with metadata and spec); the object made."""
        return self._parse(self.kube.create(self.kind, self.namespace, self.body(obj)))

    def get(self, name: str) -> M:
        return self._parse(self.kube.get(self.kind, self.namespace, name))

    def list(self, selector: str | None = None) -> list[M]:
        """Every object of the namespace, or those whose labels match ``selector``
        (``app=x,tier!=web``, as kubectl's -l)."""
        items, _ = self.kube.list(self.kind, self.namespace, selector)
        return sorted((self._parse(i) for i in items), key=lambda m: str(_name(m)))

    def patch(self, name: str, patch: Mapping[str, Any]) -> M:
        """A JSON merge patch: only the fields named change; a None value removes a field."""
        return self._parse(self.kube.patch(self.kind, self.namespace, name, dict(patch)))

    def delete(self, name: str) -> None:
        self.kube.delete(self.kind, self.namespace, name)

    def watch(
        self, selector: str | None = None, *, name: str | None = None, timeout: float = 60
    ) -> Iterator[tuple[str, M]]:
        """The current objects as ADDED events, then every change until ``timeout`` seconds
        have passed (the watch is renewed as the API server ends it)."""
        deadline = time.monotonic() + timeout
        items, version = self.kube.list(self.kind, self.namespace, selector)
        for item in items:
            if name is None or (item.get("metadata") or {}).get("name") == name:
                yield "ADDED", self._parse(item)
        while (left := deadline - time.monotonic()) > 0:
            try:
                for event, obj in self.kube.watch(
                    self.kind,
                    self.namespace,
                    version,
                    name=name,
                    selector=selector,
                    timeout=int(min(left, WATCH_SECONDS)) or 1,
                ):
                    version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                    yield event, self._parse(obj)
                    if deadline <= time.monotonic():
                        return
            except ApiError as err:
                if err.status != 410:
                    raise
                # The resourceVersion is too old: start again from a fresh list.
                items, version = self.kube.list(self.kind, self.namespace, selector)
                for item in items:
                    if name is None or (item.get("metadata") or {}).get("name") == name:
                        yield "MODIFIED", self._parse(item)

    def wait(
        self,
        name: str,
        *,
        until: Callable[[M], bool] | None = None,
        phases: Container[str] | None = None,
        condition: str | None = None,
        timeout: float = 600,
        progress: Progress | None = None,
    ) -> M:
        """Block until the object satisfies ``until``, reaches one of ``phases``
        (``status.phase``) or has ``condition`` True; the object then. ``progress`` is called
        with the object whenever it changes. WaitTimeout after ``timeout`` seconds."""
        wanted: list[str] = []
        checks: list[Callable[[M], bool]] = []
        if until is not None:
            checks.append(until)
            wanted.append("the condition given")
        if phases is not None:
            checks.append(lambda m: status_of(m, "phase") in phases)
            *others, last_one = sorted(phases)
            named = f"{', '.join(others)} or {last_one}" if others else last_one
            wanted.append(f"phase {named}")
        if condition is not None:
            checks.append(lambda m: has_condition(m, condition))
            wanted.append(f"condition {condition}=True")
        if not checks:
            raise ValueError("wait for what? give until, phases or condition")
        last: M | None = None
        for _, obj in self.watch(name=name, timeout=timeout):
            last = obj
            if progress is not None:
                progress(obj)
            if all(check(obj) for check in checks):
                return obj
        # A last look: the watch may have ended between a change and its event.
        last = self.get(name)
        if all(check(last) for check in checks):
            return last
        seen = status_of(last, "phase")
        message = status_of(last, "message")
        raise WaitTimeout(
            f"{self.kind.kind} {name!r} in namespace {self.namespace}: not at "
            f"{' and '.join(wanted)} after {timeout:g}s (phase {seen or 'unset'}"
            + (f": {message}" if message else "")
            + "); wait longer (--timeout) or look at it with `kubectl describe "
            + f"{self.kind.singular} {name} -n {self.namespace}`"
        )


def has_condition(obj: Model, type_: str) -> bool:
    return any(c.type == type_ and c.status == "True" for c in status_of(obj, "conditions") or [])


def _name(obj: Model) -> str:
    return str(getattr(getattr(obj, "metadata", None), "name", ""))
