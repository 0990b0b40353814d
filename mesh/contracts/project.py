"""Where the project lives and where it keeps its working files.

The project directory holds ``domains/``, ``assets/``, ``checks/`` and ``workspace.yaml``. It is
``MESH_PROJECT_DIR`` when set, else the checkout this package was installed from. Working files
(the Dagster instance, local products, generated operational data) go under ``<project>/.mesh``
unless configured otherwise. Holds no other configuration: resources are ``mesh.orchestration.environment``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def project_dir() -> Path:
    configured = os.environ.get("MESH_PROJECT_DIR")
    if configured:
        return Path(configured).resolve()
    return Path(__file__).resolve().parents[2]


def work_dir() -> Path:
    """The git-ignored folder for everything the mesh generates locally."""
    return Path(os.environ.get("MESH_WORK_DIR") or project_dir() / ".mesh").resolve()


def ensure_importable(project: Path) -> None:
    """Make the project's ``assets`` and ``checks`` packages importable without an install."""
    text = str(project)
    if text not in sys.path:
        sys.path.insert(0, text)
