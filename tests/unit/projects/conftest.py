"""Unit tests of MLflow projects (mlkube.projects): MLproject parsing, parameters, archives, and
the runner that a Run's pod starts.

Boundary: files in pytest's tmp_path; no network, no object store (archives are packed and
unpacked locally). The runner tests are the exception to "no subprocesses", on purpose: the only
proof that runner.pyz needs nothing installed is to start a separate interpreter with ``-I -S``
(no site-packages, no environment) on it, and to let it create a real virtualenv. Requirements
install from a wheel built in tmp_path (``PIP_NO_INDEX``), never from an index. The tags the
runner sets through the tracking API (test_facts.py) go to an HTTP server on 127.0.0.1 that the
test starts and that records what it receives.
"""
