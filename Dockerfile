# One image for every MPDP service; the command picks the service and the process
# (`mpdpctl web identity`, `mpdpctl relay identity`, `mpdpctl consume identity`, ...).

# The web console, built from its lock file; the gateway serves the result at /.
FROM node:20-slim AS console
WORKDIR /console
COPY console/package.json console/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY console ./
RUN npm run build

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

COPY constraints.txt ./
COPY libs ./libs
COPY services ./services
COPY --from=console /console/dist ./console/dist
RUN pip install -c constraints.txt ./libs/common ./services/* \
    && useradd --system --uid 10001 --home-dir /app mpdp \
    && mkdir -p /data && chown mpdp /data

USER mpdp
ENV MPDP_HOST=0.0.0.0 MPDP_DATA_DIR=/data
EXPOSE 8080 8090 8101 8102 8103 8104 8105
CMD ["mpdpctl", "--help"]
