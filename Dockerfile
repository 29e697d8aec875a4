# netpol-drift: one image for the API (gunicorn), the Celery workers and beat.
#
#     docker build -t netpol-drift .
#
# Installed editable from /app so that the Alembic migrations in /app/migrations
# sit where the service looks for them (netpol-drift db upgrade).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A fixed, unprivileged user: mounted files (the kubeconfig) can be made readable to it.
RUN groupadd --system --gid 10001 netpol \
 && useradd --system --uid 10001 --gid netpol --create-home --home-dir /home/netpol netpol

WORKDIR /app

# Dependencies first, so that changing the code does not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir service workers \
 && touch service/__init__.py workers/__init__.py \
 && pip install -e . "gunicorn>=23" \
 && rm -rf service workers

COPY service ./service
COPY workers ./workers
COPY migrations ./migrations
COPY scenarios ./scenarios
RUN pip install --no-deps -e . && python -m compileall -q service workers

USER netpol
EXPOSE 8000

# Each compose service says what it runs; by default, the command line.
ENTRYPOINT []
CMD ["netpol-drift", "--help"]
