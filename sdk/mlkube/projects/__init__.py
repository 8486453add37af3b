"""MLflow Projects: the MLproject format, typed parameters, archives and the in-pod runner."""

from mlkube.projects.mlproject import EntryPoint, Parameter, Project, ProjectError, load_project

__all__ = ["EntryPoint", "Parameter", "Project", "ProjectError", "load_project"]
