#!/bin/sh
# Runs once, when the PostgreSQL volume is new: MeshWatch's database beside
# Grafana's (POSTGRES_DB), owned by the same user. MeshWatch creates its
# tables itself on first use (its migrations, under an advisory lock).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
CREATE DATABASE meshwatch OWNER "$POSTGRES_USER";
SQL
