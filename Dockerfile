# sentrail: one image for every part (collector, correlator, dashboard, the ACME shop and its
# traffic generator); the command picks the part.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY alembic ./alembic
COPY store ./store
COPY rules ./rules
COPY collector ./collector
COPY correlator ./correlator
COPY dashboard ./dashboard
COPY shop ./shop
COPY sentrail ./sentrail
# Editable, so that the migrations beside the code are found where the code is.
RUN pip install -e . && useradd --uid 10001 --no-create-home sentrail \
    && mkdir -p /data && chown sentrail /data
USER sentrail
ENV SHOP_DATA_DIR=/data/shop
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
ENTRYPOINT ["sentrail"]
CMD ["serve", "--host", "0.0.0.0"]
