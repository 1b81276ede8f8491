#!/usr/bin/env bash
# Start the local PostgreSQL and RabbitMQ if this machine has them and they are down.
# Idempotent: does nothing when both already answer. Used by `.ci/run` and `make test`.
set -euo pipefail

if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    if ! pg_isready -q -h 127.0.0.1 -p 5432; then
        for version in $(ls /etc/postgresql); do
            pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
        done
        for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
    fi
fi

if command -v rabbitmqctl >/dev/null 2>&1; then
    if ! rabbitmq-diagnostics -q check_running >/dev/null 2>&1; then
        if ! rabbitmqctl -q ping >/dev/null 2>&1; then
            rabbitmq-server -detached || true
            sleep 2
            rabbitmqctl -q await_startup --timeout 120 >/dev/null 2>&1 || true
        fi
        # A fault test may have left the node up with its application stopped.
        if ! rabbitmq-diagnostics -q check_running >/dev/null 2>&1; then
            rabbitmqctl -q start_app >/dev/null 2>&1 || true
            rabbitmqctl -q await_startup --timeout 120 >/dev/null 2>&1 || true
        fi
    fi
fi
