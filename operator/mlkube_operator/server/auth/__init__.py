"""Who is asking, and may they (issue 13).

Every request but /health, /version and server-info carries a bearer token. The tracking server
asks the API server who it belongs to (TokenReview) and whether that identity may do what the
endpoint does to mlkube's resources in the request's workspace namespace (SubjectAccessReview),
so Kubernetes RBAC is the one place where rights are granted. Answers are cached briefly
(``guard.py``). ``--auth none`` replaces all of this with a single user who may do everything.
"""
