FROM node:20-bookworm-slim AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY Makefile ./
RUN mkdir -p static && make assets

FROM python:3.11-slim-bookworm
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY pyproject.toml README.md alembic.ini ./
COPY dps dps
COPY catalogue catalogue
COPY supplier_portal supplier_portal
COPY buyer_portal buyer_portal
COPY authority_portal authority_portal
COPY migrations migrations
COPY templates templates
COPY static/app static/app
COPY --from=assets /src/static/assets static/assets
RUN pip install --no-cache-dir -e . && useradd --create-home dps && mkdir -p var && chown dps var
USER dps
EXPOSE 8000
CMD ["sh", "-c", "dps db upgrade && dps serve --host 0.0.0.0 --port 8000"]
