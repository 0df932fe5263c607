# The Maracker image: one image for web, worker, beat, watcher, flower and the simulator
# (the process is chosen by name from the Procfile: `python -m config.procfile <name>`).
ARG PYTHON_VERSION=3.11

# --- build: compilers only here, to build any wheel that has no binary for this platform -------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
COPY requirements/base.txt /tmp/requirements.txt
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --upgrade pip \
    && /opt/venv/bin/pip install --no-cache-dir -r /tmp/requirements.txt

# --- runtime: the virtualenv and the code, no build tools, a non-root user -----------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=config.settings \
    MARACKER_VAR_DIR=/app/var \
    PORT=8000
RUN groupadd --system --gid 10001 maracker \
    && useradd --system --uid 10001 --gid maracker --home-dir /app --shell /usr/sbin/nologin maracker
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=root:root . /app
RUN mkdir -p /app/var && chown maracker:maracker /app/var
USER maracker:maracker
VOLUME ["/app/var"]
EXPOSE 8000 5555
CMD ["python", "-m", "config.procfile", "web"]
