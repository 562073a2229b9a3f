# vgrad: the Streamlit lab and its training backend in one image.
#   docker build -t vgrad .
#   docker run -p 8501:8501 -v vgrad-data:/data vgrad      # then open http://localhost:8501
# The same image is a Ray node (no ENTRYPOINT: the command replaces CMD; README "Ray cluster"):
#   docker run --rm --network host vgrad ray start --address HEAD_IP:6379 --block
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Same pinned requirements as `make run` (tensorflow-cpu on linux/x86_64 through its marker).
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt \
    && find /usr/local/lib/python3.11 -name "__pycache__" -type d -prune -exec rm -rf {} + \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin vgrad \
    && mkdir -p /data \
    && chown vgrad:vgrad /data

COPY --chown=vgrad:vgrad . .

# Settings (see vgrad/settings.py); Streamlit runs headless and listens on all interfaces.
# PYTHONPATH: vgrad is importable from any directory, by a Ray worker too; Ray sends no usage stats.
ENV VGRAD_DATA_DIR=/data \
    PYTHONPATH=/app \
    RAY_USAGE_STATS_ENABLED=0 \
    STREAMLIT_SERVER_HEADLESS=true \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false \
    STREAMLIT_SERVER_FILE_WATCHER_TYPE=none \
    TF_CPP_MIN_LOG_LEVEL=2

VOLUME ["/data"]
USER vgrad
EXPOSE 8501

HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://localhost:8501/_stcore/health', timeout=4).status == 200 else 1)"]

# The same entry point as `make run`: starts the backend service and the Streamlit app.
CMD ["python", "-m", "vgrad", "serve", "--port", "8501", "--host", "0.0.0.0"]
