FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY aggregator ./aggregator
COPY storage ./storage
RUN pip install . && useradd --create-home newsagg
COPY config ./config
USER newsagg
EXPOSE 8000
CMD ["newsagg", "worker"]
