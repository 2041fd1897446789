# Airflow image with the project's pinned requirements (docker-compose.yaml builds it).
FROM apache/airflow:3.3.2-python3.11
USER root
RUN apt-get update -q && apt-get install -y -q --no-install-recommends pkg-config default-libmysqlclient-dev gcc \
    && rm -rf /var/lib/apt/lists/*
USER airflow
COPY requirements.txt /requirements.txt
RUN pip install --no-cache-dir -r /requirements.txt
