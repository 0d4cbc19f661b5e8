# One image for every process of the lab that is Python: the app replicas, the queue worker, the
# mail simulator and the one-shot seed job (the compose files give each its command).
#   docker build -t scaling-lab .        (the compose files build it for you)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /lab
# What `pip install .` needs, and nothing else (see .dockerignore).
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY stages ./stages
COPY benchmarks ./benchmarks
COPY mailsim ./mailsim
RUN pip install . \
    && useradd --create-home --uid 10001 lab \
    && mkdir /data && chown lab:lab /data
COPY --chmod=0755 deploy/entrypoint.sh /usr/local/bin/lab-entrypoint

# Each container's own disk: sessions and report files stay on the replica that wrote them,
# as on separate machines (the lessons of stages 3 and 6).
USER lab
WORKDIR /data
ENTRYPOINT ["lab-entrypoint"]
# The replicas' gunicorn settings (a graceful stop the proxy can route around), as every
# replica of the compose files and of the embedded runner loads them.
CMD ["python", "-m", "gunicorn", "--bind", "0.0.0.0:8000", "-c", "python:benchmarks.stack.gunicorn_conf", \
     "stages.legacy.app:create_app()"]
