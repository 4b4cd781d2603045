# The server's image: the API (granian), the background job workers (rqworker) and the agents
# (ponos_agent) all run from it, with different commands; see docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=arkindex.settings \
    STATIC_ROOT=/app/staticfiles \
    MEDIA_ROOT=/data/media

WORKDIR /app
COPY pyproject.toml README.md manage.py ./
COPY arkindex ./arkindex
COPY users ./users
COPY documents ./documents
COPY workers ./workers
COPY processes ./processes
COPY ponos ./ponos
COPY datasets ./datasets
COPY console ./console
RUN pip install . \
    # Static files are part of the image; the settings need a secret key to load, not this one.
    && SECRET_KEY=collectstatic-only arkindex-server collectstatic --noinput \
    && useradd --system --create-home --home-dir /home/arkindex arkindex \
    && mkdir -p /data/media \
    && chown -R arkindex:arkindex /data

USER arkindex
VOLUME /data/media
EXPOSE 8000

# Four threads per worker: granian's default would be 128 each, every one of them keeping a
# database connection of its own.
CMD ["granian", "--interface", "wsgi", "arkindex.wsgi:application", "--no-ws", "--host", "0.0.0.0", "--port", "8000", \
     "--workers", "4", "--blocking-threads", "4", "--respawn-failed-workers", "--access-log"]
