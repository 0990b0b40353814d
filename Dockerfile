# syntax=docker/dockerfile:1
# Images of the mesh. One image per domain code location (the build argument DOMAIN picks it):
#
#   docker build --build-arg DOMAIN=sales -t mesh-sales .            # gRPC code server of domain sales
#   docker build --target platform -t mesh-platform .                # webserver and daemon
#
# INSTANCE_CONFIG picks the instance baked into $DAGSTER_HOME: deploy/dagster.yaml (ECS run
# launcher, the default) or deploy/dagster.docker.yaml (Docker run launcher; also pass
# EXTRA_PACKAGES=dagster-docker==0.29.27). See deploy/README.md.
ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim-bookworm AS base
ARG EXTRA_PACKAGES=""
ARG INSTANCE_CONFIG=deploy/dagster.yaml
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/opt/dagster/home \
    MESH_PROJECT_DIR=/opt/mesh \
    MESH_ENV=production \
    DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=true
WORKDIR /opt/mesh
# The dependencies first, from pyproject.toml alone, so that code changes reuse this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt ${EXTRA_PACKAGES} \
    && rm /tmp/requirements.txt
RUN groupadd --system mesh && useradd --system --gid mesh --home-dir /opt/mesh mesh \
    && mkdir -p "$DAGSTER_HOME" /data && chown mesh:mesh "$DAGSTER_HOME" /data
COPY ${INSTANCE_CONFIG} ${DAGSTER_HOME}/dagster.yaml

# The webserver and the daemon reach domain code only through the code servers.
FROM base AS platform
COPY deploy/workspace.yaml /opt/dagster/workspace.yaml
USER mesh
EXPOSE 3000
CMD ["dagster-webserver", "-h", "0.0.0.0", "-p", "3000", "-w", "/opt/dagster/workspace.yaml"]

# One domain's code location: the platform (mesh/), every contract (lineage and access rules span
# domains) and this domain's code only. The runs of its jobs start from this image too.
FROM base AS domain
ARG DOMAIN
RUN test -n "${DOMAIN}" || { echo "build with --build-arg DOMAIN=<domain> (a folder under domains/)" >&2; exit 1; }
COPY README.md ./
COPY mesh mesh
COPY operational operational
COPY domains domains
COPY assets/__init__.py assets/__init__.py
COPY checks/__init__.py checks/__init__.py
COPY assets/${DOMAIN} assets/${DOMAIN}
COPY checks/${DOMAIN} checks/${DOMAIN}
RUN pip install --no-deps -e . \
    && python -c "import mesh.locations as l; getattr(l, '${DOMAIN}')" \
    && rm -rf /opt/mesh/.mesh
ENV MESH_DOMAIN=${DOMAIN}
USER mesh
EXPOSE 4000
CMD ["sh", "-c", "exec dagster api grpc --module-name mesh.locations --attribute \"$MESH_DOMAIN\" --working-directory /opt/mesh --host 0.0.0.0 --port 4000"]
